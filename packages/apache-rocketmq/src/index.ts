export { APACHE_ROCKETMQ_VERSION, ApacheRocketMQ, apacheRocketMQAvailability, apacheRocketMQClasspath, startApacheRocketMQ } from './apache-rocketmq.js';
export type { ApacheRocketMQOptions } from './apache-rocketmq.js';
