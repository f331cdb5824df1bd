package dev.karman.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code DefaultMQAdminExt}, the admin API mqadmin and the dashboard are built on, against Karman:
 * topics (create, update, route, delete), the cluster and broker status, consumer progress and
 * connections of a running push consumer, messages by key and by id, and the live offset reset
 * (the broker pushes the new offsets to the running consumer, which consumes again from there).
 */
class AdminTest {
    private static final String CLUSTER = "DefaultCluster";

    static KarmanCluster cluster;
    static DefaultMQAdminExt admin;
    static DefaultMQProducer producer;

    @BeforeAll
    static void start() throws Exception {
        cluster = KarmanCluster.start();
        admin = new DefaultMQAdminExt();
        admin.setNamesrvAddr(cluster.namesrvAddr());
        admin.setInstanceName(KarmanCluster.unique("admin"));
        admin.start();
        producer = Clients.producer(cluster, null);
    }

    @AfterAll
    static void stop() throws Exception {
        if (producer != null) producer.shutdown();
        if (admin != null) admin.shutdown();
        if (cluster != null) cluster.close();
    }

    private static String broker() {
        return cluster.brokerAddr("broker-a");
    }

    /** Send {@code count} messages with keys {@code prefix-i} and bodies {@code prefix-i}; answers the results. */
    private static List<SendResult> send(String topic, String prefix, int count) throws Exception {
        List<SendResult> results = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String text = prefix + "-" + i;
            SendResult result = producer.send(new Message(topic, "TagA", text, text.getBytes(StandardCharsets.UTF_8)));
            assertEquals(SendStatus.SEND_OK, result.getSendStatus());
            results.add(result);
        }
        return results;
    }

    /** Wait until the route of a topic has {@code queues} read queues on broker-a (the producer's route cache aside). */
    private static void awaitRoute(String topic, int queues) throws InterruptedException {
        Clients.await(() -> {
            try {
                var route = admin.examineTopicRouteInfo(topic);
                return route.getQueueDatas().size() == 1 && route.getQueueDatas().get(0).getReadQueueNums() == queues;
            } catch (Exception e) {
                return false;
            }
        }, 10_000, "route of " + topic + " with " + queues + " queues");
    }

    private static DefaultMQPushConsumer pushConsumer(String group, String topic, Map<String, AtomicInteger> seen) throws MQClientException {
        DefaultMQPushConsumer consumer = Clients.fast(new DefaultMQPushConsumer(group), cluster);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
            for (MessageExt m : messages) seen.computeIfAbsent(new String(m.getBody(), StandardCharsets.UTF_8), k -> new AtomicInteger()).incrementAndGet();
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        return consumer;
    }

    /** The group's consumer offsets on the broker, by queue id, and their total lag. */
    private static Map<Integer, long[]> progress(String group, String topic) throws Exception {
        var stats = admin.examineConsumeStats(group);
        Map<Integer, long[]> byQueue = new TreeMap<>();
        for (var entry : stats.getOffsetTable().entrySet()) {
            if (!entry.getKey().getTopic().equals(topic)) continue;
            byQueue.put(entry.getKey().getQueueId(), new long[] {entry.getValue().getBrokerOffset(), entry.getValue().getConsumerOffset()});
        }
        return byQueue;
    }

    private static long lag(Map<Integer, long[]> progress) {
        return progress.values().stream().mapToLong(p -> p[0] - p[1]).sum();
    }

    /**
     * {@code createTopic(key, topic, queueNum)}: 4.9.8 has that signature, 5.x only the one with
     * topic attributes (empty here), so the method is looked up.
     */
    private static void createTopic(String key, String topic, int queues) throws Exception {
        try {
            DefaultMQAdminExt.class.getMethod("createTopic", String.class, String.class, int.class, Map.class).invoke(admin, key, topic, queues, new HashMap<String, String>());
        } catch (NoSuchMethodException e) {
            DefaultMQAdminExt.class.getMethod("createTopic", String.class, String.class, int.class).invoke(admin, key, topic, queues);
        }
    }

    /**
     * DELETE_TOPIC_IN_NAMESRV through {@code deleteTopicInNameServer}, whose signature differs:
     * 5.x has {@code (addrs, topic)}, 4.9.8 only {@code (addrs, topic, clusterName)} (clusterName
     * optional, null here), so the method is looked up by its parameter count.
     */
    private static void deleteTopicInNameServer(String topic) throws Exception {
        Set<String> addrs = Set.of(cluster.namesrvAddr());
        try {
            DefaultMQAdminExt.class.getMethod("deleteTopicInNameServer", Set.class, String.class).invoke(admin, addrs, topic);
        } catch (NoSuchMethodException e) {
            DefaultMQAdminExt.class.getMethod("deleteTopicInNameServer", Set.class, String.class, String.class).invoke(admin, addrs, topic, null);
        }
    }

    @Test
    void createsUpdatesRoutesAndDeletesTopics() throws Exception {
        String topic = KarmanCluster.unique("AdminTopic");
        // createTopic(key, topic, queues) creates the topic on every broker that serves the key topic.
        createTopic(CLUSTER, topic, 3);
        awaitRoute(topic, 3);
        var route = admin.examineTopicRouteInfo(topic);
        assertEquals("broker-a", route.getBrokerDatas().get(0).getBrokerName());
        assertEquals(broker(), route.getBrokerDatas().get(0).getBrokerAddrs().get(0L));
        assertEquals(3, route.getQueueDatas().get(0).getWriteQueueNums());
        assertEquals(6, route.getQueueDatas().get(0).getPerm());

        TopicConfig config = new TopicConfig(topic, 5, 5, 6);
        admin.createAndUpdateTopicConfig(broker(), config);
        awaitRoute(topic, 5);
        assertEquals(5, admin.examineTopicRouteInfo(topic).getQueueDatas().get(0).getWriteQueueNums());
        assertTrue(admin.fetchAllTopicList().getTopicList().contains(topic));

        admin.deleteTopicInBroker(Set.of(broker()), topic);
        deleteTopicInNameServer(topic);
        assertFalse(admin.fetchAllTopicList().getTopicList().contains(topic));
        MQClientException gone = assertThrows(MQClientException.class, () -> admin.examineTopicRouteInfo(topic));
        assertEquals(17, gone.getResponseCode(), "TOPIC_NOT_EXIST: " + gone.getMessage());
    }

    @Test
    void describesTheClusterAndTheBroker() throws Exception {
        var info = admin.examineBrokerClusterInfo();
        assertEquals(Set.of("broker-a"), info.getClusterAddrTable().get(CLUSTER));
        var brokerData = info.getBrokerAddrTable().get("broker-a");
        assertEquals(CLUSTER, brokerData.getCluster());
        assertEquals(broker(), brokerData.getBrokerAddrs().get(0L));

        String topic = KarmanCluster.unique("StatsTopic");
        cluster.createTopic(topic, 2);
        var before = admin.fetchBrokerRuntimeStats(broker()).getTable();
        send(topic, "stat", 3);
        var table = admin.fetchBrokerRuntimeStats(broker()).getTable();
        for (String key : List.of("brokerVersionDesc", "msgPutTotalTodayNow", "msgGetTotalTodayNow", "putTps", "commitLogMaxOffset", "commitLogDiskRatio", "bootTimestamp")) {
            assertNotNull(table.get(key), key + " in " + table.keySet());
        }
        assertEquals(Long.parseLong(before.get("msgPutTotalTodayNow")) + 3, Long.parseLong(table.get("msgPutTotalTodayNow")));
        assertTrue(Long.parseLong(table.get("commitLogMaxOffset")) > Long.parseLong(before.get("commitLogMaxOffset")));
    }

    @Test
    void queriesMessagesByKeyAndById() throws Exception {
        String topic = KarmanCluster.unique("QueryTopic");
        cluster.createTopic(topic, 2);
        long begin = System.currentTimeMillis() - 1_000;
        List<SendResult> sent = send(topic, "q", 3);
        long end = System.currentTimeMillis() + 1_000;

        var byKey = admin.queryMessage(topic, "q-1", 32, begin, end);
        assertEquals(1, byKey.getMessageList().size());
        assertEquals("q-1", new String(byKey.getMessageList().get(0).getBody(), StandardCharsets.UTF_8));
        assertEquals("q-1", byKey.getMessageList().get(0).getKeys());

        SendResult second = sent.get(2);
        // viewMessage(topic, id) takes either id (5.x dropped the one-argument form for offset ids).
        MessageExt byOffsetId = admin.viewMessage(topic, second.getOffsetMsgId());
        assertEquals("q-2", new String(byOffsetId.getBody(), StandardCharsets.UTF_8));
        assertEquals(topic, byOffsetId.getTopic());
        assertEquals(second.getMessageQueue().getQueueId(), byOffsetId.getQueueId());
        assertEquals(second.getQueueOffset(), byOffsetId.getQueueOffset());
        assertEquals("TagA", byOffsetId.getTags());

        // The id SendResult.getMsgId() returns is the client's unique key (UNIQ_KEY), found through the index.
        MessageExt byUniqueKey = admin.viewMessage(topic, second.getMsgId());
        assertEquals("q-2", new String(byUniqueKey.getBody(), StandardCharsets.UTF_8));
        assertEquals(second.getMsgId(), byUniqueKey.getMsgId());
        assertEquals(second.getQueueOffset(), byUniqueKey.getQueueOffset());
    }

    /**
     * One running push consumer for both: its progress as the broker reports it (consume stats,
     * connection, the client's own offsets through the broker, the broker-wide consume stats), then
     * a reset by timestamp while it runs, which it must follow by consuming again from there.
     */
    @Test
    void reportsConsumerProgressThenResetsOffsetsWhileTheGroupIsOnline() throws Exception {
        String topic = KarmanCluster.unique("ResetTopic");
        String group = KarmanCluster.unique("ResetGroup");
        cluster.createTopic(topic, 2);
        send(topic, "old", 6);
        Thread.sleep(50);
        long timestamp = System.currentTimeMillis();
        Thread.sleep(50);
        send(topic, "new", 6);
        Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
        DefaultMQPushConsumer consumer = pushConsumer(group, topic, seen);
        try {
            Clients.await(() -> seen.size() == 12, 20_000, "12 messages consumed");
            Clients.await(() -> {
                try {
                    Map<Integer, long[]> p = progress(group, topic);
                    return p.size() == 2 && lag(p) == 0;
                } catch (Exception e) {
                    return false;
                }
            }, 10_000, "the group's offsets committed on the broker");
            Map<Integer, long[]> p = progress(group, topic);
            assertEquals(12, p.values().stream().mapToLong(v -> v[0]).sum(), "broker offsets add up to the messages sent");
            for (long[] v : p.values()) assertEquals(v[0], v[1], "consumer offset = broker offset once all is consumed");
            assertEquals(0, admin.examineConsumeStats(group).computeTotalDiff());

            var connection = admin.examineConsumerConnectionInfo(group);
            assertEquals(1, connection.getConnectionSet().size());
            String clientId = connection.getConnectionSet().iterator().next().getClientId();
            assertTrue(clientId.contains("@"), clientId);
            assertTrue(connection.getSubscriptionTable().containsKey(topic), connection.getSubscriptionTable().keySet().toString());
            assertEquals("CONSUME_PASSIVELY", connection.getConsumeType().name());
            assertEquals("CLUSTERING", connection.getMessageModel().name());

            // GET_CONSUMER_STATUS_FROM_CLIENT through the broker: the client's own offsets.
            Map<String, Map<MessageQueue, Long>> status = admin.getConsumeStatus(topic, group, "");
            assertEquals(Set.of(clientId), status.keySet());
            Map<Integer, Long> clientOffsets = new HashMap<>();
            for (var e : status.get(clientId).entrySet()) clientOffsets.put(e.getKey().getQueueId(), e.getValue());
            for (var e : p.entrySet()) assertEquals(e.getValue()[1], clientOffsets.get(e.getKey()), "client offset of queue " + e.getKey());

            var inBroker = admin.fetchConsumeStatsInBroker(broker(), false, 5_000);
            assertEquals(broker(), inBroker.getBrokerAddr());
            boolean found = false;
            for (var byGroup : inBroker.getConsumeStatsList()) {
                var statsList = byGroup.get(group);
                if (statsList == null) continue;
                for (var stats : statsList) {
                    for (var entry : stats.getOffsetTable().entrySet()) {
                        if (!entry.getKey().getTopic().equals(topic)) continue;
                        found = true;
                        assertEquals(p.get(entry.getKey().getQueueId())[0], entry.getValue().getBrokerOffset());
                        assertEquals(entry.getValue().getBrokerOffset(), entry.getValue().getConsumerOffset());
                    }
                }
            }
            assertTrue(found, "the group's topic in GET_BROKER_CONSUME_STATS");
            Map<Integer, long[]> before = progress(group, topic);

            Map<MessageQueue, Long> reset = admin.resetOffsetByTimestamp(topic, group, timestamp, true);
            assertEquals(2, reset.size(), reset.toString());
            long rewound = 0;
            for (var e : reset.entrySet()) {
                assertEquals("broker-a", e.getKey().getBrokerName());
                assertTrue(e.getValue() < before.get(e.getKey().getQueueId())[0], "queue " + e.getKey().getQueueId() + " rewound: " + reset);
                rewound += before.get(e.getKey().getQueueId())[0] - e.getValue();
            }
            assertEquals(6, rewound, "the offsets move back by the messages stored after the timestamp: " + reset);

            // The running consumer drops what it holds and consumes again from the new offsets:
            // every message stored after the timestamp a second time, none of those before.
            Clients.await(() -> seen.entrySet().stream().filter(e -> e.getKey().startsWith("new-")).allMatch(e -> e.getValue().get() >= 2), 45_000, "the 6 newer messages consumed again");
            for (var e : seen.entrySet()) {
                if (e.getKey().startsWith("old-")) assertEquals(1, e.getValue().get(), e.getKey() + " is before the timestamp");
            }
        } finally {
            consumer.shutdown();
        }
    }
}
