import { describe, expect, it } from 'vitest';
import { parseClusterInfo } from './admin-client.js';

describe('parseClusterInfo', () => {
  it("reads Apache RocketMQ's fastjson body, whose broker ids are unquoted keys, like Karman's", () => {
    const fastjson = '{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}';
    const info = parseClusterInfo(fastjson);
    expect(info.brokerAddrTable['broker-a']!.brokerAddrs).toEqual({ '0': '127.0.0.1:10911', '1': '127.0.0.1:10921' });
    expect(info.clusterAddrTable).toEqual({ DefaultCluster: ['broker-a'] });
    expect(parseClusterInfo(fastjson.replace('{0:', '{"0":').replace(',1:', ',"1":'))).toEqual(info);
  });
});
