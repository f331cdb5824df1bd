package dev.karman.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code DefaultLitePullConsumer} against Karman: subscribe mode, and assign mode with seek and commit. */
class LitePullConsumerTest {
    static KarmanCluster cluster;
    static DefaultMQProducer producer;

    @BeforeAll
    static void start() throws Exception {
        cluster = KarmanCluster.start();
        producer = Clients.producer(cluster, null);
    }

    @AfterAll
    static void stop() throws Exception {
        if (producer != null) producer.shutdown();
        if (cluster != null) cluster.close();
    }

    static DefaultLitePullConsumer consumer(String group) {
        DefaultLitePullConsumer c = Clients.fast(new DefaultLitePullConsumer(group), cluster);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        return c;
    }

    static Message message(String topic, String seq) {
        Message m = new Message(topic, "Lite", "key-" + seq, ("body " + seq).getBytes(StandardCharsets.UTF_8));
        m.putUserProperty("seq", seq);
        return m;
    }

    static List<MessageExt> pollUntil(DefaultLitePullConsumer c, int count, long timeoutMillis) {
        List<MessageExt> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (got.size() < count && System.currentTimeMillis() < deadline) got.addAll(c.poll(200));
        got.addAll(c.poll(300));
        return got;
    }

    static List<String> seqs(List<MessageExt> msgs) {
        return msgs.stream().map(m -> m.getUserProperty("seq")).sorted().collect(Collectors.toList());
    }

    @Test
    void subscribeModePollsEverything() throws Exception {
        String topic = KarmanCluster.unique("LiteSub");
        cluster.createTopic(topic, 4);
        List<String> sent = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String seq = String.format("early-%02d", i);
            assertEquals(SendStatus.SEND_OK, producer.send(message(topic, seq)).getSendStatus());
            sent.add(seq);
        }
        DefaultLitePullConsumer c = consumer(KarmanCluster.unique("lsg"));
        c.subscribe(topic, "*");
        c.start();
        try {
            List<MessageExt> early = pollUntil(c, 20, 15_000);
            assertEquals(sent, seqs(early), "every message sent before the start, once");
            for (MessageExt m : early) {
                assertArrayEquals(("body " + m.getUserProperty("seq")).getBytes(StandardCharsets.UTF_8), m.getBody());
                assertEquals("key-" + m.getUserProperty("seq"), m.getKeys());
                assertEquals("Lite", m.getTags());
            }
            assertEquals(4, early.stream().map(MessageExt::getQueueId).distinct().count(), "from all 4 queues");
            List<String> later = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String seq = String.format("late-%02d", i);
                assertEquals(SendStatus.SEND_OK, producer.send(message(topic, seq)).getSendStatus());
                later.add(seq);
            }
            assertEquals(later, seqs(pollUntil(c, 8, 15_000)), "and every message sent while polling, once");
        } finally {
            c.shutdown();
        }
    }

    @Test
    void assignModeSeeksCommitsAndANewMemberResumesAtTheCommit() throws Exception {
        String topic = KarmanCluster.unique("LiteAssign");
        String group = KarmanCluster.unique("lag");
        cluster.createTopic(topic, 2);
        MessageQueue q0 = new MessageQueue(topic, "broker-a", 0);
        MessageQueue q1 = new MessageQueue(topic, "broker-a", 1);
        for (int i = 0; i < 10; i++) {
            assertEquals(SendStatus.SEND_OK, producer.send(message(topic, "q0-" + i), q0).getSendStatus());
            assertEquals(SendStatus.SEND_OK, producer.send(message(topic, "q1-" + i), q1).getSendStatus());
        }

        DefaultLitePullConsumer first = consumer(group);
        first.setAutoCommit(false);
        first.start();
        try {
            first.assign(List.of(q0, q1));
            first.seek(q0, 3);
            first.seek(q1, 7);
            Map<Integer, List<Long>> offsets = byQueue(pollUntil(first, 10, 15_000));
            assertEquals(List.of(3L, 4L, 5L, 6L, 7L, 8L, 9L), offsets.get(0), "queue 0 from the seek to 3");
            assertEquals(List.of(7L, 8L, 9L), offsets.get(1), "queue 1 from the seek to 7");
            first.commitSync();
        } finally {
            first.shutdown();
        }

        for (int i = 10; i < 12; i++) {
            assertEquals(SendStatus.SEND_OK, producer.send(message(topic, "q0-" + i), q0).getSendStatus());
            assertEquals(SendStatus.SEND_OK, producer.send(message(topic, "q1-" + i), q1).getSendStatus());
        }
        // CONSUME_FROM_FIRST_OFFSET: without the committed offsets this member would read from 0.
        DefaultLitePullConsumer second = consumer(group);
        second.setAutoCommit(false);
        second.start();
        try {
            second.assign(List.of(q0, q1));
            assertEquals(10L, second.committed(q0));
            assertEquals(10L, second.committed(q1));
            List<MessageExt> resumed = pollUntil(second, 4, 15_000);
            Map<Integer, List<Long>> offsets = byQueue(resumed);
            assertEquals(List.of(10L, 11L), offsets.get(0), "queue 0 resumed at the commit");
            assertEquals(List.of(10L, 11L), offsets.get(1), "queue 1 resumed at the commit");
            assertEquals(List.of("q0-10", "q0-11", "q1-10", "q1-11"), seqs(resumed));
        } finally {
            second.shutdown();
        }
    }

    static Map<Integer, List<Long>> byQueue(List<MessageExt> msgs) {
        Map<Integer, List<Long>> out = new TreeMap<>();
        for (MessageExt m : msgs) out.computeIfAbsent(m.getQueueId(), k -> new ArrayList<>()).add(m.getQueueOffset());
        for (List<Long> l : out.values()) l.sort(null);
        return out;
    }
}
