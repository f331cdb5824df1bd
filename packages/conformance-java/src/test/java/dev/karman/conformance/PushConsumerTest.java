package dev.karman.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code DefaultMQPushConsumer} against Karman: queue sharing in a group and rebalancing, broadcast,
 * orderly consumption, retries down the delay ladder into the dead-letter queue, tag filtering and
 * where a new group starts.
 */
class PushConsumerTest {
    /** Levels 3 and 4 (a message's first and second retry) last 1 s and 2 s. */
    static final String DELAY_LEVELS = "1s 1s 1s 2s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s";
    static KarmanCluster cluster;
    static DefaultMQProducer producer;
    final List<DefaultMQPushConsumer> consumers = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        cluster = KarmanCluster.start("{\"brokerArgs\":[\"--set\",\"messageDelayLevel=" + DELAY_LEVELS + "\"]}");
        producer = Clients.producer(cluster, null);
    }

    @AfterAll
    static void stop() throws Exception {
        if (producer != null) producer.shutdown();
        if (cluster != null) cluster.close();
    }

    @AfterEach
    void shutdownConsumers() {
        for (DefaultMQPushConsumer c : consumers) c.shutdown();
    }

    DefaultMQPushConsumer consumer(String group, String topic, String expression) throws Exception {
        DefaultMQPushConsumer c = Clients.fast(new DefaultMQPushConsumer(group), cluster);
        c.setConsumeThreadMin(4);
        c.setConsumeThreadMax(4);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.subscribe(topic, expression);
        consumers.add(c);
        return c;
    }

    /** The queues of {@code topic} a started push consumer currently consumes (its rebalance result). */
    static Set<Integer> ownedQueues(DefaultMQPushConsumer c, String topic) {
        return c.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().entrySet().stream()
                .filter(e -> e.getKey().getTopic().equals(topic) && !e.getValue().isDropped())
                .map(e -> e.getKey().getQueueId()).collect(Collectors.toSet());
    }

    static MessageListenerConcurrently recordInto(List<MessageExt> into) {
        return (msgs, context) -> {
            into.addAll(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        };
    }

    static List<String> send(String topic, String tags, String prefix, int count) throws Exception {
        List<String> seqs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Message m = new Message(topic, tags, prefix + "-key-" + i, (prefix + " body " + i).getBytes(StandardCharsets.UTF_8));
            m.putUserProperty("seq", prefix + "-" + i);
            assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
            seqs.add(prefix + "-" + i);
        }
        return seqs;
    }

    static List<String> seqs(List<MessageExt> msgs) {
        return msgs.stream().map(m -> m.getUserProperty("seq")).sorted().collect(Collectors.toList());
    }

    static List<String> sorted(List<String> list) {
        List<String> copy = new ArrayList<>(list);
        Collections.sort(copy);
        return copy;
    }

    @Test
    void clusteringMembersSplitTheQueuesAndTheSurvivorTakesThemAll() throws Exception {
        String topic = KarmanCluster.unique("Split");
        String group = KarmanCluster.unique("cg");
        cluster.createTopic(topic, 8);
        List<MessageExt> gotA = new CopyOnWriteArrayList<>();
        List<MessageExt> gotB = new CopyOnWriteArrayList<>();
        DefaultMQPushConsumer a = consumer(group, topic, "*");
        a.registerMessageListener(recordInto(gotA));
        DefaultMQPushConsumer b = consumer(group, topic, "*");
        b.registerMessageListener(recordInto(gotB));
        a.start();
        b.start();
        Clients.await(() -> {
            Set<Integer> qa = ownedQueues(a, topic);
            Set<Integer> qb = ownedQueues(b, topic);
            Set<Integer> union = new HashSet<>(qa);
            union.addAll(qb);
            return !qa.isEmpty() && !qb.isEmpty() && Collections.disjoint(qa, qb) && union.size() == 8;
        }, 20_000, "two members sharing 8 queues");
        Set<Integer> queuesOfA = ownedQueues(a, topic);
        Set<Integer> queuesOfB = ownedQueues(b, topic);
        assertEquals(4, queuesOfA.size(), "AllocateMessageQueueAveragely gives each of two members 4 of 8 queues");

        List<String> first = send(topic, "T", "first", 32);
        Clients.await(() -> gotA.size() + gotB.size() >= 32, 15_000, "32 messages consumed by the group");
        Thread.sleep(500);
        List<String> all = new ArrayList<>(seqs(gotA));
        all.addAll(seqs(gotB));
        assertEquals(sorted(first), sorted(all), "each message consumed once by the group");
        assertFalse(gotA.isEmpty());
        assertFalse(gotB.isEmpty());
        assertTrue(gotA.stream().allMatch(m -> queuesOfA.contains(m.getQueueId())), "A only consumed its queues " + queuesOfA);
        assertTrue(gotB.stream().allMatch(m -> queuesOfB.contains(m.getQueueId())), "B only consumed its queues " + queuesOfB);

        a.shutdown();
        consumers.remove(a);
        Clients.await(() -> ownedQueues(b, topic).size() == 8, 20_000, "the survivor owning all 8 queues");
        int aBefore = gotA.size();
        List<String> second = send(topic, "T", "second", 32);
        Clients.await(() -> gotB.size() >= 16 + 32, 15_000, "the survivor consuming what was sent after");
        Thread.sleep(500);
        List<String> bSecond = seqs(gotB).stream().filter(s -> s.startsWith("second-")).collect(Collectors.toList());
        assertEquals(sorted(second), bSecond, "the survivor got every later message once");
        assertEquals(aBefore, gotA.size());
        List<String> firstAgain = new ArrayList<>(seqs(gotA));
        firstAgain.addAll(seqs(gotB).stream().filter(s -> s.startsWith("first-")).collect(Collectors.toList()));
        assertEquals(sorted(first), sorted(firstAgain), "nothing of the first round was delivered again");
        assertEquals(8, gotB.stream().filter(m -> m.getUserProperty("seq").startsWith("second-")).map(MessageExt::getQueueId).distinct().count());
    }

    @Test
    void broadcastingDeliversEveryMessageToEveryMember() throws Exception {
        String topic = KarmanCluster.unique("Broadcast");
        String group = KarmanCluster.unique("bg");
        cluster.createTopic(topic, 4);
        List<MessageExt> gotA = new CopyOnWriteArrayList<>();
        List<MessageExt> gotB = new CopyOnWriteArrayList<>();
        DefaultMQPushConsumer a = consumer(group, topic, "*");
        DefaultMQPushConsumer b = consumer(group, topic, "*");
        // MessageModel moved package between 4.x and 5.x: name the constant through the getter's type.
        var model = a.getMessageModel();
        a.setMessageModel(Enum.valueOf(model.getDeclaringClass(), "BROADCASTING"));
        b.setMessageModel(Enum.valueOf(model.getDeclaringClass(), "BROADCASTING"));
        a.registerMessageListener(recordInto(gotA));
        b.registerMessageListener(recordInto(gotB));
        a.start();
        b.start();
        Clients.await(() -> ownedQueues(a, topic).size() == 4 && ownedQueues(b, topic).size() == 4, 20_000, "both members on all queues");
        List<String> sent = send(topic, "T", "bc", 12);
        Clients.await(() -> gotA.size() >= 12 && gotB.size() >= 12, 15_000, "every member consuming all 12");
        Thread.sleep(500);
        assertEquals(sorted(sent), seqs(gotA));
        assertEquals(sorted(sent), seqs(gotB));
    }

    @Test
    void orderlyListenerSeesEachQueueInOrder() throws Exception {
        String topic = KarmanCluster.unique("Orderly");
        String group = KarmanCluster.unique("og");
        cluster.createOrderedTopic(topic, 4);
        Map<Integer, List<Integer>> stepsOfOrder = new ConcurrentHashMap<>();
        Map<Integer, List<Long>> offsetsOfQueue = new ConcurrentHashMap<>();
        DefaultMQPushConsumer c = consumer(group, topic, "*");
        c.registerMessageListener((MessageListenerOrderly) (msgs, context) -> {
            for (MessageExt m : msgs) {
                int order = Integer.parseInt(m.getUserProperty("order"));
                stepsOfOrder.computeIfAbsent(order, k -> new CopyOnWriteArrayList<>()).add(Integer.parseInt(m.getUserProperty("step")));
                offsetsOfQueue.computeIfAbsent(m.getQueueId(), k -> new CopyOnWriteArrayList<>()).add(m.getQueueOffset());
            }
            // A slow listener: a later message of the queue must still wait for this one.
            if (msgs.get(0).getQueueOffset() % 3 == 0) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return ConsumeOrderlyStatus.SUCCESS;
        });
        c.start();
        Clients.await(() -> ownedQueues(c, topic).size() == 4, 20_000, "the orderly consumer locking all 4 queues");
        int orders = 8;
        int steps = 10;
        for (int step = 0; step < steps; step++) {
            for (int order = 0; order < orders; order++) {
                Message m = new Message(topic, "Step", ("order " + order + " step " + step).getBytes(StandardCharsets.UTF_8));
                m.putUserProperty("order", String.valueOf(order));
                m.putUserProperty("step", String.valueOf(step));
                assertEquals(SendStatus.SEND_OK, producer.send(m, (mqs, msg, arg) -> mqs.get((Integer) arg % mqs.size()), order).getSendStatus());
            }
        }
        Clients.await(() -> stepsOfOrder.values().stream().mapToInt(List::size).sum() >= orders * steps, 20_000, "all ordered messages consumed");
        List<Integer> expected = new ArrayList<>();
        for (int step = 0; step < steps; step++) expected.add(step);
        for (int order = 0; order < orders; order++) assertEquals(expected, stepsOfOrder.get(order), "steps of order " + order);
        for (var e : offsetsOfQueue.entrySet()) {
            List<Long> offsets = e.getValue();
            for (int i = 1; i < offsets.size(); i++) assertEquals(offsets.get(i - 1) + 1, offsets.get(i), "queue " + e.getKey() + " consumed in offset order");
        }
    }

    @Test
    void reconsumeLaterRetriesDownTheLadderThenDeadLetters() throws Exception {
        String topic = KarmanCluster.unique("Retry");
        String group = KarmanCluster.unique("rg");
        cluster.createTopic(topic, 2);
        List<MessageExt> deliveries = new CopyOnWriteArrayList<>();
        List<Long> deliveredAt = new CopyOnWriteArrayList<>();
        DefaultMQPushConsumer c = consumer(group, topic, "*");
        c.setMaxReconsumeTimes(2);
        c.registerMessageListener((MessageListenerConcurrently) (msgs, context) -> {
            for (MessageExt m : msgs) {
                deliveries.add(m);
                deliveredAt.add(System.currentTimeMillis());
            }
            return ConsumeConcurrentlyStatus.RECONSUME_LATER;
        });
        c.start();
        Clients.await(() -> ownedQueues(c, topic).size() == 2, 20_000, "the consumer on both queues");
        Message m = new Message(topic, "Fails", "retry-key", "a message nobody can consume".getBytes(StandardCharsets.UTF_8));
        m.putUserProperty("colour", "red");
        assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());

        Clients.await(() -> deliveries.size() >= 3, 20_000, "the first delivery and two retries");
        Thread.sleep(2500);
        assertEquals(3, deliveries.size(), "maxReconsumeTimes 2: one delivery and two retries, then no more");
        for (int i = 0; i < 3; i++) {
            MessageExt d = deliveries.get(i);
            assertEquals(i, d.getReconsumeTimes());
            assertEquals(topic, d.getTopic(), "a retry is handed over under its original topic");
            assertEquals("a message nobody can consume", new String(d.getBody(), StandardCharsets.UTF_8));
            assertEquals("retry-key", d.getKeys());
            assertEquals("Fails", d.getTags());
            assertEquals("red", d.getUserProperty("colour"));
        }
        long firstGap = deliveredAt.get(1) - deliveredAt.get(0);
        long secondGap = deliveredAt.get(2) - deliveredAt.get(1);
        assertTrue(firstGap >= 900, "first retry at level 3 (1 s), came after " + firstGap + " ms");
        assertTrue(secondGap >= 1900, "second retry at level 4 (2 s), came after " + secondGap + " ms");

        List<MessageExt> dead = Clients.readAll(cluster, "%DLQ%" + group, 1, 10_000);
        assertEquals(1, dead.size(), "one message in %DLQ%" + group);
        MessageExt d = dead.get(0);
        assertEquals("%DLQ%" + group, d.getTopic());
        assertEquals("a message nobody can consume", new String(d.getBody(), StandardCharsets.UTF_8));
        assertEquals("retry-key", d.getKeys());
        assertEquals("Fails", d.getTags());
        assertEquals("red", d.getUserProperty("colour"));
        assertEquals(topic, d.getProperty("RETRY_TOPIC"), "the dead letter names the topic it came from");
        assertEquals(3, d.getReconsumeTimes());
        assertEquals(m.getProperty("UNIQ_KEY"), d.getMsgId(), "the dead letter keeps the id the producer gave it");
        for (MessageExt retried : deliveries) assertEquals(m.getProperty("UNIQ_KEY"), retried.getMsgId(), "every retry keeps the id too");
    }

    @Test
    void tagExpressionDeliversOnlyTheNamedTags() throws Exception {
        String topic = KarmanCluster.unique("Tags");
        String group = KarmanCluster.unique("tg");
        cluster.createTopic(topic, 2);
        List<MessageExt> got = new CopyOnWriteArrayList<>();
        DefaultMQPushConsumer c = consumer(group, topic, "TagA || TagB");
        c.registerMessageListener(recordInto(got));
        c.start();
        Clients.await(() -> ownedQueues(c, topic).size() == 2, 20_000, "the consumer on both queues");
        List<String> wanted = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            wanted.addAll(send(topic, "TagA", "a" + round, 1));
            send(topic, "TagC", "c" + round, 2);
            wanted.addAll(send(topic, "TagB", "b" + round, 1));
            send(topic, null, "none" + round, 1);
        }
        Clients.await(() -> got.size() >= wanted.size(), 15_000, "the TagA and TagB messages");
        Thread.sleep(1500);
        assertEquals(sorted(wanted), seqs(got), "only TagA and TagB, each once");
        assertTrue(got.stream().allMatch(m -> m.getTags().equals("TagA") || m.getTags().equals("TagB")));
    }

    /**
     * Where a group with no committed offset starts on a topic that already holds messages. FIRST
     * starts at the beginning, TIMESTAMP at the first message stored at or after the time given,
     * LAST at the end, except that RocketMQ's broker answers QUERY_CONSUMER_OFFSET with 0 for a
     * queue whose first message is still in memory ({@code ConsumerManageProcessor.queryConsumerOffset}:
     * min offset 0 and {@code checkInMemByConsumeOffset}), so on a young topic LAST starts at the
     * beginning too, and so does TIMESTAMP, which asks the broker the same question first
     * ({@code RebalancePushImpl.computePullFromWhereWithException}). Setting
     * {@code accessMessageInMemoryMaxRatio} to 0 makes every message count as "on disk": LAST then
     * starts at the end and TIMESTAMP at the time given.
     */
    @Test
    void aNewGroupStartsWhereConsumeFromWhereSays() throws Exception {
        String topic = KarmanCluster.unique("From");
        cluster.createTopic(topic, 2);
        List<String> before = send(topic, "T", "before", 4);
        long cut = (System.currentTimeMillis() / 1000 + 1) * 1000;
        Thread.sleep(cut - System.currentTimeMillis() + 200);
        List<String> after = send(topic, "T", "after", 4);

        Map<String, List<MessageExt>> got = new ConcurrentHashMap<>();
        Map<String, DefaultMQPushConsumer> groups = new java.util.LinkedHashMap<>();
        for (String name : List.of("first", "lastYoung", "timestampYoung", "lastOld", "timestampOld")) {
            DefaultMQPushConsumer c = consumer(KarmanCluster.unique("fg"), topic, "*");
            List<MessageExt> into = new CopyOnWriteArrayList<>();
            got.put(name, into);
            c.registerMessageListener(recordInto(into));
            groups.put(name, c);
        }
        groups.get("first").setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        groups.get("lastYoung").setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET);
        groups.get("lastOld").setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET);
        for (String name : List.of("timestampYoung", "timestampOld")) {
            groups.get(name).setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_TIMESTAMP);
            groups.get(name).setConsumeTimestamp(new SimpleDateFormat("yyyyMMddHHmmss").format(new Date(cut)));
        }
        List<String> young = List.of("first", "lastYoung", "timestampYoung");
        for (String name : young) groups.get(name).start();
        for (String name : young) {
            DefaultMQPushConsumer c = groups.get(name);
            Clients.await(() -> ownedQueues(c, topic).size() == 2, 20_000, name + " on both queues");
        }
        DefaultMQAdminExt admin = Clients.fast(new DefaultMQAdminExt(), cluster);
        admin.start();
        try {
            setInMemoryRatio(admin, "0");
            for (String name : List.of("lastOld", "timestampOld")) {
                DefaultMQPushConsumer c = groups.get(name);
                c.start();
                Clients.await(() -> ownedQueues(c, topic).size() == 2, 20_000, name + " on both queues");
            }
        } finally {
            setInMemoryRatio(admin, "40");
            admin.shutdown();
        }
        List<String> later = send(topic, "T", "later", 4);

        List<String> everything = new ArrayList<>(before);
        everything.addAll(after);
        everything.addAll(later);
        List<String> fromCut = new ArrayList<>(after);
        fromCut.addAll(later);
        Map<String, List<String>> expected = Map.of("first", everything, "lastYoung", everything, "timestampYoung", everything, "lastOld", later, "timestampOld", fromCut);
        for (String name : groups.keySet()) {
            List<MessageExt> into = got.get(name);
            int want = expected.get(name).size();
            Clients.await(() -> into.size() >= want, 15_000, name + " consuming " + want + " messages");
        }
        Thread.sleep(500);
        for (String name : groups.keySet()) assertEquals(sorted(expected.get(name)), seqs(got.get(name)), "messages of the " + name + " group");
    }

    static void setInMemoryRatio(DefaultMQAdminExt admin, String ratio) throws Exception {
        Properties p = new Properties();
        p.setProperty("accessMessageInMemoryMaxRatio", ratio);
        admin.updateBrokerConfig(cluster.brokerAddr("broker-a"), p);
    }
}
