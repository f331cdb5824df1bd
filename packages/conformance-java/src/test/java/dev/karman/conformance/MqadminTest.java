package dev.karman.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * {@code mqadmin} itself ({@code MQAdminStartup.main}) against Karman, run as a user runs it: a
 * JVM of its own per command (it may call {@code System.exit}, and it sets the nameserver address
 * as a system property), {@code -n <namesrv>} plus the command's arguments, and the output checked
 * for what a user reads there. The four tests run at once (unique names, one cluster): most of a
 * command's time is its JVM starting and its client shutting down.
 */
@Execution(ExecutionMode.CONCURRENT)
class MqadminTest {
    private static final String CLUSTER = "DefaultCluster";
    private static final boolean V4 = System.getProperty("karman.rocketmqVersion", "4.9.8").startsWith("4.");

    private static final String MQADMIN_HOME = Path.of("src", "test", "resources", "mqadmin-home").toAbsolutePath().toString();

    static KarmanCluster cluster;

    /** In this JVM, only to wait for a state before mqadmin is asked to show it. */
    static DefaultMQAdminExt admin;

    @BeforeAll
    static void start() throws Exception {
        cluster = KarmanCluster.start();
        admin = new DefaultMQAdminExt();
        admin.setNamesrvAddr(cluster.namesrvAddr());
        admin.setInstanceName(KarmanCluster.unique("admin"));
        admin.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (admin != null) admin.shutdown();
        if (cluster != null) cluster.close();
    }

    /**
     * Run {@code mqadmin <args> -n <namesrv>} in a child JVM; answers its standard output and error.
     * A command whose request timed out is run once more: on a loaded two-core machine a JVM that
     * has just started can miss the tools' 3 s timeout; a second timeout fails the test.
     */
    static String mqadmin(String... args) throws IOException, InterruptedException {
        String output = mqadminOnce(args);
        return output.contains("RemotingTimeoutException") ? mqadminOnce(args) : output;
    }

    private static String mqadminOnce(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
                "-cp", System.getProperty("java.class.path"),
                "-Duser.home=" + System.getProperty("user.home"),
                // ROCKETMQ_HOME: 4.x mqadmin reads conf/logback_tools.xml there before any command.
                "-Drocketmq.home.dir=" + MQADMIN_HOME,
                // The 5.x tools also read the address from this property where a command builds its own client.
                "-Drocketmq.namesrv.addr=" + cluster.namesrvAddr(),
                "org.apache.rocketmq.tools.command.MQAdminStartup"));
        command.addAll(List.of(args));
        command.add("-n");
        command.add(cluster.namesrvAddr());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = process.getInputStream().readAllBytes();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("mqadmin " + String.join(" ", args) + " did not finish");
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    /** Run several mqadmin commands at once (each its own JVM); answers their outputs in order. */
    static List<String> mqadminAll(List<List<String>> commands) throws Exception {
        List<CompletableFuture<String>> runs = new ArrayList<>();
        for (List<String> args : commands) {
            runs.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return mqadmin(args.toArray(new String[0]));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        List<String> outputs = new ArrayList<>();
        for (CompletableFuture<String> run : runs) outputs.add(run.get(120, TimeUnit.SECONDS));
        return outputs;
    }

    /** The first group of {@code regex} in {@code output}, failing with the output when absent. */
    static String find(String output, String regex) {
        Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(output);
        if (!m.find()) fail("no match for /" + regex + "/ in:\n" + output);
        return m.groupCount() > 0 ? m.group(1) : m.group();
    }

    /** The "Store Host:" of a printed message, as a socket address. */
    static InetSocketAddress storeHost(String output) {
        String host = find(output, "^Store Host:\\s+/?(\\S+)");
        int colon = host.lastIndexOf(':');
        return new InetSocketAddress(host.substring(0, colon), Integer.parseInt(host.substring(colon + 1)));
    }

    /** consumerProgress rows of one topic: queue id → {broker offset, consumer offset}. */
    static Map<Integer, long[]> progressRows(String output, String topic) {
        Map<Integer, long[]> rows = new TreeMap<>();
        Matcher m = Pattern.compile("^" + Pattern.quote(topic) + "\\s+broker-a\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)", Pattern.MULTILINE).matcher(output);
        while (m.find()) rows.put(Integer.parseInt(m.group(1)), new long[] {Long.parseLong(m.group(2)), Long.parseLong(m.group(3))});
        return rows;
    }

    @Test
    void createsListsAndRoutesTopics() throws Exception {
        String topic = KarmanCluster.unique("CliTopic");
        String broker = cluster.brokerAddr("broker-a");
        String created = mqadmin("updateTopic", "-c", CLUSTER, "-t", topic, "-r", "3", "-w", "3");
        assertTrue(created.contains("create topic to " + broker + " success."), created);
        assertTrue(created.contains("readQueueNums=3") && created.contains("writeQueueNums=3"), created);

        List<String> outputs = mqadminAll(List.of(List.of("topicList"), List.of("topicRoute", "-t", topic)));
        String list = outputs.get(0);
        assertTrue(list.lines().anyMatch(line -> line.trim().equals(topic)), list);
        String route = outputs.get(1);
        assertTrue(route.contains("\"brokerName\":\"broker-a\""), route);
        assertTrue(route.contains(broker), route);
        assertEquals("3", find(route, "\"readQueueNums\":(\\d+)"), route);
        assertEquals("3", find(route, "\"writeQueueNums\":(\\d+)"), route);

        String byBroker = mqadmin("updateTopic", "-b", broker, "-t", topic, "-r", "5", "-w", "5");
        assertTrue(byBroker.contains("create topic to " + broker + " success."), byBroker);
        assertTrue(byBroker.contains("readQueueNums=5"), byBroker);
        // The broker re-registers at once; the nameserver's route shows the new counts.
        Thread.sleep(500);
        assertEquals("5", find(mqadmin("topicRoute", "-t", topic), "\"readQueueNums\":(\\d+)"));
    }

    @Test
    void describesTheClusterAndTheBroker() throws Exception {
        String broker = cluster.brokerAddr("broker-a");
        List<String> outputs = mqadminAll(List.of(List.of("clusterList"), List.of("brokerStatus", "-b", broker)));
        String clusterList = outputs.get(0);
        String row = find(clusterList, "^(" + CLUSTER + "\\s+broker-a\\s+0\\s+" + Pattern.quote(broker) + ".*)$");
        assertTrue(row.contains("V4_9_4") || row.contains("V5"), "the broker version in " + row);
        assertFalse(row.contains("null"), "every column of the broker's row filled in: " + row);

        String status = outputs.get(1);
        for (String key : List.of("brokerVersionDesc", "msgPutTotalTodayNow", "putTps", "commitLogMaxOffset", "runtime")) {
            assertNotNull(find(status, "^" + key + "\\s*:\\s*(\\S.*)$"), key);
        }
        assertTrue(Long.parseLong(find(status, "^msgPutTotalTodayNow\\s*:\\s*(\\d+)")) >= 0, status);
    }

    @Test
    void sendsQueriesAndConsumesMessages() throws Exception {
        String topic = KarmanCluster.unique("CliMsg");
        cluster.createTopic(topic, 2);
        String sent = mqadmin("sendMessage", "-t", topic, "-p", "hello-mqadmin", "-k", "cli-key");
        String row = find(sent, "^(broker-a\\s+\\d+\\s+SEND_OK\\s+[0-9A-F]+)\\s*$");
        String msgId = row.substring(row.lastIndexOf(' ') + 1);

        // The id sendMessage prints is the client's unique key: 5.x queryMsgById takes it with -t,
        // 4.9.8 has queryMsgByUniqueKey for it (its queryMsgById takes offset ids only).
        List<String> outputs = mqadminAll(List.of(
                List.of("queryMsgByKey", "-t", topic, "-k", "cli-key"),
                V4 ? List.of("queryMsgByUniqueKey", "-t", topic, "-i", msgId) : List.of("queryMsgById", "-t", topic, "-i", msgId),
                List.of("consumeMessage", "-t", topic)));
        String byKey = outputs.get(0);
        assertTrue(byKey.contains(msgId), "the message id " + msgId + " in:\n" + byKey);
        String byUnique = outputs.get(1);
        assertEquals(topic, find(byUnique, "^Topic:\\s+(\\S+)"), byUnique);
        assertEquals("cli-key", find(byUnique, "^Keys:\\s+\\[?([^\\]\\s]+)"), byUnique);
        assertTrue(byUnique.contains("UNIQ_KEY=" + msgId), byUnique);
        // The body goes to a file ("Message Body Path:"), or is printed in 5.x with "Message Body:".
        assertTrue(byUnique.contains("Message Body"), byUnique);
        assertTrue(byUnique.contains("Store Host:") && !byUnique.contains("Exception"), byUnique);
        // The offset id: printed by 5.x; 4.9.8's queryMsgByUniqueKey prints its parts, the store
        // host and the commit-log offset, which is all an offset id encodes.
        String offsetId = V4
                ? MessageDecoder.createMessageId(storeHost(byUnique), Long.parseLong(find(byUnique, "^CommitLog Offset:\\s+(\\d+)")))
                : find(byUnique, "^OffsetID:\\s+([0-9A-F]+)");

        String byOffsetId = V4 ? mqadmin("queryMsgById", "-i", offsetId) : mqadmin("queryMsgById", "-t", topic, "-i", offsetId);
        assertEquals(offsetId, find(byOffsetId, "^OffsetID:\\s+([0-9A-F]+)"), byOffsetId);
        assertTrue(byOffsetId.contains("UNIQ_KEY=" + msgId), "the same message (its unique key) in:\n" + byOffsetId);
        assertEquals(topic, find(byOffsetId, "^Topic:\\s+(\\S+)"), byOffsetId);

        String consumed = outputs.get(2);
        assertTrue(consumed.contains("hello-mqadmin"), consumed);
    }

    @Test
    void showsConsumerProgressAndResetsOffsetsOnlineAndOffline() throws Exception {
        String topic = KarmanCluster.unique("CliReset");
        String group = KarmanCluster.unique("CliGroup");
        cluster.createTopic(topic, 2);
        DefaultMQProducer producer = Clients.producer(cluster, null);
        long start = System.currentTimeMillis() - 1_000;
        long between;
        try {
            for (int i = 0; i < 6; i++) assertEquals(SendStatus.SEND_OK, producer.send(new Message(topic, ("old-" + i).getBytes(StandardCharsets.UTF_8))).getSendStatus());
            Thread.sleep(50);
            between = System.currentTimeMillis();
            Thread.sleep(50);
            for (int i = 0; i < 6; i++) assertEquals(SendStatus.SEND_OK, producer.send(new Message(topic, ("new-" + i).getBytes(StandardCharsets.UTF_8))).getSendStatus());
        } finally {
            producer.shutdown();
        }

        Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
        DefaultMQPushConsumer consumer = Clients.fast(new DefaultMQPushConsumer(group), cluster);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
            for (MessageExt m : messages) seen.computeIfAbsent(new String(m.getBody(), StandardCharsets.UTF_8), k -> new AtomicInteger()).incrementAndGet();
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        try {
            Clients.await(() -> seen.size() == 12, 20_000, "12 messages consumed");
            // Waited for in this JVM (a JVM per try would be slow); then mqadmin shows it.
            Clients.await(() -> {
                try {
                    var stats = admin.examineConsumeStats(group);
                    return stats.getOffsetTable().keySet().stream().filter(q -> q.getTopic().equals(topic)).count() == 2 && stats.computeTotalDiff() == 0;
                } catch (Exception e) {
                    return false;
                }
            }, 20_000, "the group caught up on the broker");
            String progress = mqadmin("consumerProgress", "-g", group);
            Map<Integer, long[]> rows = progressRows(progress, topic);
            assertEquals(2, rows.size(), progress);
            assertEquals(12, rows.values().stream().mapToLong(v -> v[0]).sum(), progress);
            // 4.x prints "Diff Total:", 5.x "Consume Diff Total:" and "Consume Inflight Total:" (pulled, not yet committed).
            assertEquals("0", find(progress, "^(?:Consume )?Diff Total:\\s*(\\d+)"), progress);
            if (!V4) assertEquals("0", find(progress, "^Consume Inflight Total:\\s*(-?\\d+)"), progress);

            // Online: the broker computes the offsets, stores them and pushes them to the consumer.
            String online = mqadmin("resetOffsetByTime", "-g", group, "-t", topic, "-s", Long.toString(between));
            Map<Integer, Long> reset = new TreeMap<>();
            Matcher m = Pattern.compile("^broker-a\\s+(\\d+)\\s+(\\d+)\\s*$", Pattern.MULTILINE).matcher(online);
            while (m.find()) reset.put(Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)));
            assertEquals(2, reset.size(), online);
            assertEquals(6, reset.values().stream().mapToLong(Long::longValue).sum(), "offsets after the reset add up to the 6 older messages:\n" + online);
            for (var e : reset.entrySet()) assertTrue(e.getValue() < rows.get(e.getKey())[0], online);
        } finally {
            consumer.shutdown();
        }

        // Offline: CONSUMER_NOT_ONLINE, so mqadmin sets the stored offsets itself (resetOffsetByTimeOld).
        Clients.await(() -> {
            try {
                admin.examineConsumerConnectionInfo(group);
                return false;
            } catch (Exception e) {
                return true;
            }
        }, 20_000, "the group offline");
        String offline = mqadmin("resetOffsetByTime", "-g", group, "-t", topic, "-s", Long.toString(start));
        // The old command's table: 4.x heads its last column #rollbackOffset, 5.x #resetOffset.
        assertTrue(offline.contains("#rollbackOffset") || offline.contains("#resetOffset"), offline);
        Matcher rolled = Pattern.compile("^broker-a\\s+(\\d+)\\s+(\\d+)\\s+\\d+\\s+\\d+\\s+(\\d+)\\s*$", Pattern.MULTILINE).matcher(offline);
        int rolledQueues = 0;
        while (rolled.find()) {
            rolledQueues++;
            assertEquals("6", rolled.group(2), "broker offset of queue " + rolled.group(1) + ":\n" + offline);
            assertEquals("0", rolled.group(3), "reset offset of queue " + rolled.group(1) + ":\n" + offline);
        }
        assertEquals(2, rolledQueues, offline);
        String progress = mqadmin("consumerProgress", "-g", group);
        Map<Integer, long[]> rows = progressRows(progress, topic);
        assertEquals(2, rows.size(), progress);
        for (long[] v : rows.values()) assertEquals(0, v[1], "consumer offset back at 0:\n" + progress);
        assertEquals("12", find(progress, "^(?:Consume )?Diff Total:\\s*(\\d+)"), progress);
    }
}
