package dev.karman.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.protocol.SerializeType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code DefaultMQProducer} against Karman: every way of sending, each message read back from the
 * broker and compared with what was sent (body bytes, tags, keys, user properties).
 */
class ProducerTest {
    /** Delay level 3 lasts 3 s here (RocketMQ's default ladder makes it 10 s). */
    static final long LEVEL_3_MILLIS = 3000;
    static KarmanCluster cluster;

    @BeforeAll
    static void start() throws Exception {
        cluster = KarmanCluster.start("{\"brokerArgs\":[\"--set\",\"messageDelayLevel=1s 2s 3s 4s 5s 6s 7s 8s 9s 10s 11s 12s 13s 14s 15s 16s 17s 18s\"]}");
    }

    @AfterAll
    static void stop() throws Exception {
        if (cluster != null) cluster.close();
    }

    static Message message(String topic, String tags, String keys, String seq, byte[] body) {
        Message msg = new Message(topic, tags, keys, body);
        msg.putUserProperty("seq", seq);
        msg.putUserProperty("colour", "blue");
        return msg;
    }

    static byte[] body(String seq) {
        return ("body of " + seq).getBytes(StandardCharsets.UTF_8);
    }

    /** The read-back messages by their {@code seq} property, failing on a duplicate. */
    static Map<String, MessageExt> bySeq(List<MessageExt> read) {
        Map<String, MessageExt> out = new HashMap<>();
        for (MessageExt m : read) {
            MessageExt previous = out.put(m.getUserProperty("seq"), m);
            assertEquals(null, previous, "message seq=" + m.getUserProperty("seq") + " read twice");
        }
        return out;
    }

    static void assertSame(Message sent, MessageExt got) {
        assertArrayEquals(sent.getBody(), got.getBody(), "body of seq=" + sent.getUserProperty("seq"));
        assertEquals(sent.getTopic(), got.getTopic());
        assertEquals(sent.getTags(), got.getTags());
        assertEquals(sent.getKeys(), got.getKeys());
        assertEquals(sent.getUserProperty("seq"), got.getUserProperty("seq"));
        assertEquals(sent.getUserProperty("colour"), got.getUserProperty("colour"));
        // The client's id (UNIQ_KEY, set on the sent object) is the id the reader sees.
        assertNotNull(sent.getProperty("UNIQ_KEY"));
        assertEquals(sent.getProperty("UNIQ_KEY"), got.getMsgId());
    }

    /**
     * Sync, async and oneway single sends and a batch, with SEND_MESSAGE_V2 (sendSmartMsg, the
     * default) or SEND_MESSAGE, and JSON (the default) or ROCKETMQ header serialization.
     */
    @ParameterizedTest(name = "sendSmartMsg={0}, serialization={1}")
    @CsvSource({"true,JSON", "false,JSON", "true,ROCKETMQ", "false,ROCKETMQ"})
    void everySendModeIsStoredAsSent(boolean smart, SerializeType serialization) throws Exception {
        String topic = KarmanCluster.unique("Send");
        cluster.createTopic(topic, 4);
        Clients.Recorder recorder = new Clients.Recorder(serialization);
        Clients.setSendSmartMsg(smart);
        DefaultMQProducer producer = Clients.producer(cluster, recorder);
        List<Message> sent = new ArrayList<>();
        SendResult syncResult;
        SendResult batchResult;
        try {
            Message sync = message(topic, "TagA", "key-sync", "sync", body("sync"));
            sync.setKeys(Arrays.asList("key-sync", "second-key"));
            sent.add(sync);
            SendResult result = producer.send(sync);
            assertEquals(SendStatus.SEND_OK, result.getSendStatus());
            assertNotNull(result.getMsgId());
            assertEquals(topic, result.getMessageQueue().getTopic());
            syncResult = result;

            Message async = message(topic, "TagB", "key-async", "async", body("async"));
            sent.add(async);
            CompletableFuture<SendResult> asyncResult = new CompletableFuture<>();
            producer.send(async, new SendCallback() {
                @Override
                public void onSuccess(SendResult sendResult) {
                    asyncResult.complete(sendResult);
                }

                @Override
                public void onException(Throwable e) {
                    asyncResult.completeExceptionally(e);
                }
            });
            assertEquals(SendStatus.SEND_OK, asyncResult.get(10, TimeUnit.SECONDS).getSendStatus());

            Message oneway = message(topic, "TagC", "key-oneway", "oneway", body("oneway"));
            sent.add(oneway);
            producer.sendOneway(oneway);

            List<Message> batch = new ArrayList<>();
            for (int i = 0; i < 3; i++) batch.add(message(topic, "TagD", "key-batch-" + i, "batch-" + i, body("batch-" + i)));
            sent.addAll(batch);
            batchResult = producer.send(batch);
            assertEquals(SendStatus.SEND_OK, batchResult.getSendStatus());
            assertEquals(3, batchResult.getMsgId().split(",").length, "one id per batched message: " + batchResult.getMsgId());
        } finally {
            producer.shutdown();
            Clients.setSendSmartMsg(true);
        }

        assertTrue(recorder.requestCodes.contains(smart ? 310 : 10), "single sends used " + (smart ? "SEND_MESSAGE_V2" : "SEND_MESSAGE") + ": " + recorder.requestCodes);
        assertFalse(recorder.requestCodes.contains(smart ? 10 : 310), "no single send used the other header: " + recorder.requestCodes);
        assertTrue(recorder.requestCodes.contains(320), "the batch went as SEND_BATCH_MESSAGE: " + recorder.requestCodes);
        assertFalse(recorder.responseTypes.isEmpty());
        assertTrue(recorder.responseTypes.stream().allMatch(t -> t == serialization), "every answer came back as " + serialization + ": " + recorder.responseTypes);

        Map<String, MessageExt> read = bySeq(Clients.readAll(cluster, topic, sent.size(), 10_000));
        assertEquals(sent.size(), read.size(), "read back " + read.keySet());
        for (Message m : sent) assertSame(m, read.get(m.getUserProperty("seq")));
        assertEquals(syncResult.getMsgId(), read.get("sync").getMsgId());
        assertEquals(syncResult.getMessageQueue().getQueueId(), read.get("sync").getQueueId());
        assertEquals(syncResult.getQueueOffset(), read.get("sync").getQueueOffset());
        // The broker's id names the store host and the commit-log offset the reader sees.
        var offsetId = org.apache.rocketmq.common.message.MessageDecoder.decodeMessageId(syncResult.getOffsetMsgId());
        assertEquals(read.get("sync").getCommitLogOffset(), offsetId.getOffset());
        assertEquals(read.get("sync").getStoreHost(), offsetId.getAddress());
        assertTrue(read.get("sync").getStoreTimestamp() >= read.get("sync").getBornTimestamp());
        List<MessageExt> batchRead = List.of(read.get("batch-0"), read.get("batch-1"), read.get("batch-2"));
        assertEquals(1, batchRead.stream().map(MessageExt::getQueueId).distinct().count(), "a batch lands in one queue");
        assertEquals(batchResult.getQueueOffset(), batchRead.get(0).getQueueOffset(), "the batch's result names its first offset");
        assertEquals(batchResult.getMessageQueue().getQueueId(), batchRead.get(0).getQueueId());
        assertEquals(batchRead.get(0).getQueueOffset() + 1, batchRead.get(1).getQueueOffset());
        assertEquals(batchRead.get(0).getQueueOffset() + 2, batchRead.get(2).getQueueOffset());
    }

    @Test
    void bodyOverFourKibIsCompressedAndReadBackAsSent() throws Exception {
        String topic = KarmanCluster.unique("Big");
        cluster.createTopic(topic, 2);
        StringBuilder text = new StringBuilder();
        for (int i = 0; text.length() < 100_000; i++) text.append("line ").append(i).append(" of a compressible body\n");
        byte[] big = text.toString().getBytes(StandardCharsets.UTF_8);
        byte[] justOver = new byte[4097];
        for (int i = 0; i < justOver.length; i++) justOver[i] = (byte) (i * 31 + 7);
        DefaultMQProducer producer = Clients.producer(cluster, null);
        List<Message> sent = List.of(message(topic, "Big", "big", "big", big), message(topic, "Big", "over", "over", justOver));
        try {
            for (Message m : sent) assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
        } finally {
            producer.shutdown();
        }
        Map<String, MessageExt> read = bySeq(Clients.readAll(cluster, topic, sent.size(), 10_000));
        assertEquals(2, read.size());
        for (Message m : sent) assertSame(m, read.get(m.getUserProperty("seq")));
        // The stored size is the compressed one: a 100 KB text body takes far less.
        assertTrue(read.get("big").getStoreSize() < big.length / 4, "stored compressed, size " + read.get("big").getStoreSize());
    }

    @Test
    void delayLevelThreeIsDeliveredAfterItsDelay() throws Exception {
        String topic = KarmanCluster.unique("Delay");
        cluster.createTopic(topic, 2);
        DefaultMQProducer producer = Clients.producer(cluster, null);
        Message delayed = message(topic, "Later", "delayed", "delayed", body("delayed"));
        delayed.setDelayTimeLevel(3);
        long sentAt;
        try {
            sentAt = System.currentTimeMillis();
            assertEquals(SendStatus.SEND_OK, producer.send(delayed).getSendStatus());
        } finally {
            producer.shutdown();
        }
        List<MessageExt> early = Clients.readAll(cluster, topic, 1, 800);
        // Only meaningful while the delay has not passed (a slow reader start on a loaded machine).
        if (System.currentTimeMillis() - sentAt < LEVEL_3_MILLIS - 200) assertEquals(0, early.size(), "not in the topic before its delay");
        List<MessageExt> read = Clients.readAll(cluster, topic, 1, 10_000);
        long readAt = System.currentTimeMillis();
        assertEquals(1, read.size());
        MessageExt got = read.get(0);
        assertSame(delayed, got);
        assertTrue(got.getStoreTimestamp() - got.getBornTimestamp() >= LEVEL_3_MILLIS - 100,
                "stored in its topic " + (got.getStoreTimestamp() - got.getBornTimestamp()) + " ms after it was born");
        assertTrue(readAt - sentAt >= LEVEL_3_MILLIS, "read " + (readAt - sentAt) + " ms after the send");
        assertTrue(got.getStoreTimestamp() - got.getBornTimestamp() < LEVEL_3_MILLIS + 10_000, "and not much later");
    }

    @Test
    void selectorKeepsAnOrderOnOneQueueInSendOrder() throws Exception {
        String topic = KarmanCluster.unique("Orderly");
        cluster.createOrderedTopic(topic, 4);
        DefaultMQProducer producer = Clients.producer(cluster, null);
        Map<Integer, Integer> queueOfOrder = new HashMap<>();
        int orders = 6;
        int steps = 5;
        try {
            for (int step = 0; step < steps; step++) {
                for (int order = 0; order < orders; order++) {
                    Message m = message(topic, "Step", "order-" + order, order + "-" + step, body(order + "-" + step));
                    SendResult result = producer.send(m, (mqs, msg, arg) -> mqs.get((Integer) arg % mqs.size()), order);
                    assertEquals(SendStatus.SEND_OK, result.getSendStatus());
                    Integer before = queueOfOrder.put(order, result.getMessageQueue().getQueueId());
                    if (before != null) assertEquals(before, result.getMessageQueue().getQueueId(), "order " + order + " stays on its queue");
                    assertEquals(order % 4, result.getMessageQueue().getQueueId());
                }
            }
        } finally {
            producer.shutdown();
        }
        List<MessageExt> read = Clients.readAll(cluster, topic, orders * steps, 10_000);
        assertEquals(orders * steps, bySeq(read).size());
        for (int order = 0; order < orders; order++) {
            String prefix = order + "-";
            List<MessageExt> ofOrder = read.stream().filter(m -> m.getUserProperty("seq").startsWith(prefix))
                    .sorted(Comparator.comparingLong(MessageExt::getQueueOffset)).collect(Collectors.toList());
            assertEquals(steps, ofOrder.size());
            for (int step = 0; step < steps; step++) {
                assertEquals(order + "-" + step, ofOrder.get(step).getUserProperty("seq"), "order " + order + " kept its send order");
                assertEquals(queueOfOrder.get(order), ofOrder.get(step).getQueueId());
            }
        }
    }

    @Test
    void sendToAnExplicitQueueLandsThere() throws Exception {
        String topic = KarmanCluster.unique("Explicit");
        cluster.createTopic(topic, 4);
        DefaultMQProducer producer = Clients.producer(cluster, null);
        List<Message> sent = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Message m = message(topic, "Q2", "explicit-" + i, "explicit-" + i, body("explicit-" + i));
                sent.add(m);
                SendResult result = producer.send(m, new MessageQueue(topic, "broker-a", 2));
                assertEquals(SendStatus.SEND_OK, result.getSendStatus());
                assertEquals(2, result.getMessageQueue().getQueueId());
                assertEquals(i, result.getQueueOffset());
            }
        } finally {
            producer.shutdown();
        }
        Map<String, MessageExt> read = bySeq(Clients.readAll(cluster, topic, sent.size(), 10_000));
        assertEquals(3, read.size());
        for (Message m : sent) {
            MessageExt got = read.get(m.getUserProperty("seq"));
            assertSame(m, got);
            assertEquals(2, got.getQueueId());
        }
    }
}
