package dev.karman.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ProducerSmokeTest {
    static KarmanCluster cluster;

    @BeforeAll
    static void start() throws Exception {
        cluster = KarmanCluster.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (cluster != null) cluster.close();
    }

    @Test
    void syncSendIsStored() throws Exception {
        String topic = KarmanCluster.unique("Smoke");
        cluster.createTopic(topic, 4);
        DefaultMQProducer producer = new DefaultMQProducer(KarmanCluster.unique("pg"));
        producer.setNamesrvAddr(cluster.namesrvAddr());
        producer.start();
        try {
            SendResult result = producer.send(new Message(topic, "TagA", "k1", "hello".getBytes(StandardCharsets.UTF_8)));
            assertEquals(SendStatus.SEND_OK, result.getSendStatus());
        } finally {
            producer.shutdown();
        }
    }
}
