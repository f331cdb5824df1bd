package dev.karman.conformance;

import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BooleanSupplier;
import org.apache.rocketmq.client.ClientConfig;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.impl.MQClientAPIImpl;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.RPCHook;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.SerializeType;

/**
 * What the producer and consumer tests share: clients with fast intervals, reading a topic back
 * from its first offset, waiting for a condition, and an {@link RPCHook} that records (and can
 * choose the header serialization of) every request a client sends.
 */
final class Clients {
    private Clients() {
    }

    /**
     * Route refresh, heartbeat and offset persistence every second instead of 30 s / 30 s / 5 s;
     * API calls may take 10 s instead of 3 s, as this 2-core machine runs several clusters at once.
     */
    static <T extends ClientConfig> T fast(T config, KarmanCluster cluster) {
        config.setNamesrvAddr(cluster.namesrvAddr());
        config.setMqClientApiTimeout(10_000);
        config.setPollNameServerInterval(1000);
        config.setHeartbeatBrokerInterval(1000);
        config.setPersistConsumerOffsetInterval(1000);
        config.setInstanceName(KarmanCluster.unique("i"));
        return config;
    }

    static DefaultMQProducer producer(KarmanCluster cluster, RPCHook hook) throws Exception {
        DefaultMQProducer producer = fast(new DefaultMQProducer(KarmanCluster.unique("pg"), hook), cluster);
        producer.setSendMsgTimeout(10_000);
        producer.start();
        return producer;
    }

    /**
     * Every message of {@code topic} from offset 0 of each queue, read with a lite pull consumer
     * in assign mode, once {@code expected} have arrived; then one more short poll so that extra
     * (duplicate or unexpected) messages are in the list too.
     */
    static List<MessageExt> readAll(KarmanCluster cluster, String topic, int expected, long timeoutMillis) throws Exception {
        DefaultLitePullConsumer reader = fast(new DefaultLitePullConsumer(KarmanCluster.unique("reader")), cluster);
        reader.setAutoCommit(false);
        reader.start();
        List<MessageExt> got = new ArrayList<>();
        try {
            var queues = reader.fetchMessageQueues(topic);
            reader.assign(queues);
            for (MessageQueue mq : queues) seekWithRetry(reader, mq);
            long deadline = System.currentTimeMillis() + timeoutMillis;
            while (got.size() < expected && System.currentTimeMillis() < deadline) got.addAll(reader.poll(200));
            got.addAll(reader.poll(300));
        } finally {
            reader.shutdown();
        }
        return got;
    }

    /**
     * {@code seek(mq, 0)}, tried up to three times. Under the full suite on 2 cores the 5.5.0
     * client has, about once in three runs, failed its first GET_MIN_OFFSET on a fresh connection
     * with "send request to <broker> failed" (the write of the request failed: a closed channel);
     * the cause is not found yet and is kept visible here on stderr. Only the reader's seek is
     * retried, never what a test asserts on.
     */
    static void seekWithRetry(DefaultLitePullConsumer reader, MessageQueue mq) throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                reader.seek(mq, 0);
                return;
            } catch (org.apache.rocketmq.client.exception.MQClientException e) {
                if (attempt >= 3) throw e;
                System.err.println("readAll: seek(" + mq + ", 0) failed (attempt " + attempt + "), retrying: " + e.getCause());
                Thread.sleep(200);
            }
        }
    }

    static void await(BooleanSupplier condition, long timeoutMillis, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) fail("timed out after " + timeoutMillis + " ms waiting for " + what);
            Thread.sleep(50);
        }
    }

    /**
     * Switches the client between SEND_MESSAGE_V2 (310, the short-named header, the default) and
     * SEND_MESSAGE (10). The client reads {@code org.apache.rocketmq.client.sendSmartMsg} into the
     * static field {@code MQClientAPIImpl.sendSmartMsg} once, when the class loads, and every
     * test class of this module shares one JVM, so the field is set directly (both 4.x and 5.x
     * keep it non-final); the tests check the request codes on the wire with a {@link Recorder}.
     */
    static void setSendSmartMsg(boolean on) throws ReflectiveOperationException {
        Field field = MQClientAPIImpl.class.getDeclaredField("sendSmartMsg");
        field.setAccessible(true);
        field.setBoolean(null, on);
    }

    /**
     * Records the code of every request and response, and optionally encodes every request's
     * header with {@code serializeType}. {@code RemotingCommand} takes its default serialization
     * from {@code rocketmq.serialize.type} once, in its static initializer, but each command carries
     * its own ({@code setSerializeTypeCurrentRPC}), which is what the encoder reads; a hook runs
     * before the command is encoded, so this exercises ROCKETMQ headers for one client only.
     */
    static final class Recorder implements RPCHook {
        final Set<Integer> requestCodes = java.util.concurrent.ConcurrentHashMap.newKeySet();
        final ConcurrentLinkedQueue<SerializeType> responseTypes = new ConcurrentLinkedQueue<>();
        private final SerializeType serializeType;

        Recorder(SerializeType serializeType) {
            this.serializeType = serializeType;
        }

        @Override
        public void doBeforeRequest(String remoteAddr, RemotingCommand request) {
            requestCodes.add(request.getCode());
            if (serializeType != null) request.setSerializeTypeCurrentRPC(serializeType);
        }

        @Override
        public void doAfterResponse(String remoteAddr, RemotingCommand request, RemotingCommand response) {
            if (response != null) responseTypes.add(response.getSerializeTypeCurrentRPC());
        }
    }
}
