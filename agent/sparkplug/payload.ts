import protobuf from 'protobufjs';

/**
 * The Sparkplug B payload (topic namespace spBv1.0), written from the Eclipse Sparkplug specification's message
 * definition: the fields an edge node needs for scalar metrics. Fields left out (metadata, property sets, data sets,
 * templates) are skipped by the decoder when a host sends them, as protobuf does with any unknown field.
 */
const PROTO = `
syntax = "proto2";
package org.eclipse.tahu.protobuf;
message Payload {
  message Metric {
    optional string name = 1;
    optional uint64 alias = 2;
    optional uint64 timestamp = 3;
    optional uint32 datatype = 4;
    optional bool is_historical = 5;
    optional bool is_transient = 6;
    optional bool is_null = 7;
    oneof value {
      uint32 int_value = 10;
      uint64 long_value = 11;
      float float_value = 12;
      double double_value = 13;
      bool boolean_value = 14;
      string string_value = 15;
      bytes bytes_value = 16;
    }
  }
  optional uint64 timestamp = 1;
  repeated Metric metrics = 2;
  optional uint64 seq = 3;
  optional string uuid = 4;
  optional bytes body = 5;
  extensions 6 to max;
}
`;

const PayloadType = protobuf.parse(PROTO).root.lookupType('org.eclipse.tahu.protobuf.Payload');

/** Sparkplug B data types (the specification's numbering) of the metrics this agent publishes. */
export const DataType = {
  Int64: 4,
  UInt64: 8,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
} as const;
export type DataTypeName = keyof typeof DataType;

/** One metric: `null` is sent as is_null (a value not known yet, e.g. the temperature where the OS does not say). */
export interface Metric {
  name: string;
  type: DataTypeName;
  value: number | boolean | string | null;
  timestamp?: number;
}

export interface Payload {
  timestamp: number;
  metrics: Metric[];
  /** Absent on NDEATH. */
  seq?: number;
}

const TYPE_NAMES = Object.fromEntries(Object.entries(DataType).map(([name, code]) => [code, name])) as Record<
  number,
  DataTypeName
>;

function valueField(metric: Metric): Record<string, unknown> {
  if (metric.value === null) return { isNull: true };
  switch (metric.type) {
    case 'Int64':
    case 'UInt64':
    case 'DateTime':
      // Every 64-bit value this agent sends is a count, a time or bdSeq: never negative.
      return { longValue: Math.max(0, Math.trunc(Number(metric.value))) };
    case 'Double':
      return { doubleValue: Number(metric.value) };
    case 'Boolean':
      return { booleanValue: Boolean(metric.value) };
    case 'String':
      return { stringValue: String(metric.value) };
  }
}

export function encodePayload(payload: Payload): Buffer {
  const message = PayloadType.fromObject({
    timestamp: payload.timestamp,
    ...(payload.seq !== undefined ? { seq: payload.seq } : {}),
    metrics: payload.metrics.map((m) => ({
      name: m.name,
      timestamp: m.timestamp ?? payload.timestamp,
      datatype: DataType[m.type],
      ...valueField(m),
    })),
  });
  return Buffer.from(PayloadType.encode(message).finish());
}

interface DecodedMetric {
  name?: string;
  timestamp?: number;
  datatype?: number;
  isNull?: boolean;
  longValue?: number;
  intValue?: number;
  doubleValue?: number;
  floatValue?: number;
  booleanValue?: boolean;
  stringValue?: string;
}

/** Decodes what a host sends (NCMD) and what tests read back; a metric of a type this agent does not send keeps its value. */
export function decodePayload(bytes: Uint8Array): Payload {
  const message = PayloadType.toObject(PayloadType.decode(bytes), { longs: Number, arrays: true }) as {
    timestamp?: number;
    seq?: number;
    metrics: DecodedMetric[];
  };
  return {
    timestamp: message.timestamp ?? 0,
    ...(message.seq !== undefined ? { seq: message.seq } : {}),
    metrics: message.metrics.map((m) => {
      const type = TYPE_NAMES[m.datatype ?? -1] ?? 'String';
      const long =
        m.longValue !== undefined && type === 'Int64' && m.longValue >= 2 ** 63 ? m.longValue - 2 ** 64 : m.longValue;
      const value = m.isNull
        ? null
        : (long ?? m.doubleValue ?? m.floatValue ?? m.booleanValue ?? m.stringValue ?? m.intValue ?? null);
      return { name: m.name ?? '', type, value, ...(m.timestamp ? { timestamp: m.timestamp } : {}) };
    }),
  };
}
