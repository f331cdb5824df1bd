package dev.karman.conformance;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Karman cluster of real processes (karman-nameserver and karman-broker from this repository's
 * sources) for one test class, started through {@code launcher/karman-cluster.ts} and controlled
 * over its standard input. Close it (try-with-resources or {@code @AfterAll}) to stop every process.
 *
 * <p>The repository root comes from the {@code karman.repo} system property that the pom sets; Node
 * from {@code karman.node} or {@code node} on PATH.
 */
public final class KarmanCluster implements AutoCloseable {
    private static final Pattern STRING_FIELD = Pattern.compile("\"([A-Za-z0-9_-]+)\":\"([^\"]*)\"");

    private final Process process;
    private final BufferedReader out;
    private final Writer in;
    private final String namesrvAddr;
    private final Map<String, String> brokers = new LinkedHashMap<>();
    private final Path stderr;
    private int nextId = 1;

    private KarmanCluster(String specJson) throws IOException, InterruptedException {
        Path repo = Path.of(System.getProperty("karman.repo", "../..")).toAbsolutePath().normalize();
        Path launcherDir = repo.resolve("packages/conformance-java");
        stderr = Files.createTempFile("karman-cluster-", ".stderr");
        List<String> command = new ArrayList<>(List.of(
                System.getProperty("karman.node", "node"), "--conditions=@karman/source", "--import", "tsx",
                "launcher/karman-cluster.ts", specJson));
        ProcessBuilder builder = new ProcessBuilder(command).directory(launcherDir.toFile())
                .redirectError(ProcessBuilder.Redirect.to(stderr.toFile()));
        process = builder.start();
        out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        String ready = out.readLine();
        if (ready == null || !ready.contains("\"ready\":true")) {
            process.waitFor(5, TimeUnit.SECONDS);
            throw new IllegalStateException("the Karman cluster launcher did not start (first line: " + ready + "); stderr: " + stderrTail());
        }
        String addr = null;
        Matcher brokersPart = Pattern.compile("\"brokers\":\\{([^}]*)\\}").matcher(ready);
        String brokerSection = brokersPart.find() ? brokersPart.group(1) : "";
        Matcher fields = STRING_FIELD.matcher(ready);
        while (fields.find()) {
            if (fields.group(1).equals("namesrvAddr")) addr = fields.group(2);
        }
        Matcher brokerFields = STRING_FIELD.matcher(brokerSection);
        while (brokerFields.find()) brokers.put(brokerFields.group(1), brokerFields.group(2));
        if (addr == null) throw new IllegalStateException("no namesrvAddr in the launcher's ready line: " + ready);
        namesrvAddr = addr;
    }

    /** One nameserver and one master, {@code broker-a}. */
    public static KarmanCluster start() throws IOException, InterruptedException {
        return new KarmanCluster("{}");
    }

    /** A cluster described by the launcher's JSON options, e.g. {@code {"brokerNames":["broker-a","broker-b"]}}. */
    public static KarmanCluster start(String specJson) throws IOException, InterruptedException {
        return new KarmanCluster(specJson);
    }

    /** {@code 127.0.0.1:port} of the nameserver, what {@code setNamesrvAddr} takes. */
    public String namesrvAddr() {
        return namesrvAddr;
    }

    /** {@code 127.0.0.1:port} of a master broker. */
    public String brokerAddr(String brokerName) {
        String addr = brokers.get(brokerName);
        if (addr == null) throw new IllegalArgumentException("no broker " + brokerName + " in this cluster: " + brokers.keySet());
        return addr;
    }

    /** A name no other test uses: {@code prefix} plus a random suffix (RocketMQ names allow [A-Za-z0-9_-]). */
    public static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    }

    /** Create a topic with {@code queues} read and write queues on every master and wait until it is routed. */
    public void createTopic(String topic, int queues) throws IOException {
        request("{\"op\":\"createTopic\",\"topic\":\"" + topic + "\",\"queues\":" + queues + "}");
    }

    /** Create an ordered topic (the {@code order} flag of {@code updateTopic -o true}). */
    public void createOrderedTopic(String topic, int queues) throws IOException {
        request("{\"op\":\"createTopic\",\"topic\":\"" + topic + "\",\"queues\":" + queues + ",\"order\":true}");
    }

    /** SIGTERM one broker (it unregisters and persists offsets). */
    public void stopBroker(String brokerName) throws IOException {
        request("{\"op\":\"stopBroker\",\"brokerName\":\"" + brokerName + "\"}");
    }

    /** Start a stopped broker again on its port and store. */
    public void startBroker(String brokerName) throws IOException {
        request("{\"op\":\"startBroker\",\"brokerName\":\"" + brokerName + "\"}");
    }

    private synchronized void request(String body) throws IOException {
        int id = nextId++;
        in.write("{\"id\":" + id + "," + body.substring(1) + "\n");
        in.flush();
        String line = out.readLine();
        if (line == null) throw new IllegalStateException("the Karman cluster launcher exited; stderr: " + stderrTail());
        if (!line.contains("\"ok\":true")) throw new IllegalStateException("launcher request " + body + " failed: " + line);
    }

    private String stderrTail() {
        try {
            String text = Files.readString(stderr);
            return text.length() > 4000 ? text.substring(text.length() - 4000) : text;
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    @Override
    public void close() throws Exception {
        try {
            in.close();
        } catch (IOException ignored) {
            // The launcher already exited; waiting below still reaps it.
        }
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
        new File(stderr.toString()).delete();
    }
}
