// Package kafka is the Kafka sink: it publishes Aegis records to Kafka
// (or Redpanda) with acks=all and reports each record's fate through its
// sink.Message.Done, so that log offsets are checkpointed only after Kafka
// holds the records they produced.
//
// # Routing
//
// One topic per record kind (Config.Topics, defaults aegis.detections,
// aegis.verdicts, aegis.couplings, aegis.campaigns). The record key is the
// source IP (or the Community ID, falling back to the source IP), and
// partitions are chosen with Kafka's murmur2 partitioner, the Java
// client's and librdkafka's ("murmur2_random"), so one source host always
// lands on one partition, the same one other producers would pick. Every
// record carries the headers aegis-schema-version, aegis-kind and
// aegis-sensor.
//
// # Delivery
//
// Each topic partition has one sender that keeps at most one produce
// request in flight and retries a failed batch, with exponential backoff,
// before anything queued behind it: per-key order holds across retries.
// Retriable failures (brokers down or restarting, leader elections, not
// enough replicas, timeouts, any error not known to be permanent) are
// retried for ever and never reach Done. Write blocks while MaxInFlight
// records (or MaxInFlightBytes) wait for acknowledgement, so an outage
// turns into back-pressure on the readers, with bounded memory, and
// publishing resumes by itself when the brokers return.
//
// Permanent failures (topic missing, confirmed by fresh metadata; topic
// or cluster authorisation; SASL login; TLS handshake; a broker too old
// for the request or codec) stop the sink: queued records and further
// Writes get a *sink.PermanentError whose Fix says what to change. A
// record that can never be written (larger than the topic allows, or
// rejected as invalid) fails alone with a *sink.PermanentError and the
// sink goes on. Check verifies brokers and topics at start-up.
//
// Kafka may hold a record twice when a produce request's answer is lost
// (a broker dying between writing and answering; Close giving up): the
// records' deterministic event.id lets consumers drop such duplicates.
// kafka-go has no idempotent producer.
//
// # Implementation
//
// The sink drives kafka-go's Client.Produce over a kafka-go Transport
// (connection pooling, TLS, SASL, metadata, leader routing, record batch
// encoding and compression) rather than kafka-go's Writer, because the
// Writer cannot do what at-least-once delivery with per-key order needs:
// its retry loop is bounded by MaxAttempts and sleeps uninterruptibly, a
// batch that exhausts its attempts is reported while later batches of the
// same partition go on (so re-sending it reorders the partition), Close
// waits for those retries (for ever with unbounded attempts while the
// cluster is down), UNKNOWN_TOPIC_OR_PARTITION is retried like a leader
// move, and Async writes still do a synchronous metadata lookup that
// fails while the cluster is unreachable.
//
// # Concurrency and ownership
//
// A Sink is safe for concurrent use. It keeps a reference to each
// Message's Value until Done is called and never modifies it. Done is
// called exactly once per accepted message, from the sink's goroutines.
package kafka
