import type { MqttClient } from 'mqtt';

/**
 * Subscribes at QoS 1 on an MQTT.js client and hands over the payloads of that exact topic. MQTT.js re-subscribes
 * after a reconnect, and the broker then re-delivers the retained manifest, which model sync handles idempotently.
 */
export function mqttSubscriber(
  client: MqttClient,
): (topic: string, onMessage: (payload: Buffer) => void) => Promise<void> {
  return async (topic, onMessage) => {
    client.on('message', (t, payload) => {
      if (t === topic) onMessage(payload);
    });
    await client.subscribeAsync(topic, { qos: 1 });
  };
}
