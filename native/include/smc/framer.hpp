// Messages over records (docs/protocol.md 3.2 and the fragment checks C8-C10): FrameWriter
// cuts a message larger than one record into FIRST / MIDDLE / LAST records and owes a
// CANCEL for one abandoned part-way; FrameReader checks the records a RingReader returns
// against C8-C10 and reassembles fragmented messages, or hands their fragments to a
// FragmentSink as they arrive. Neither blocks: waiting for room or data is the Endpoint's.
// The TypeScript twin is js/src/protocol/framer.ts.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "smc/layout.hpp"
#include "smc/ring.hpp"

namespace smc {

// The fragment cursor of one message being sent, and the CANCEL owed by one abandoned
// after its FIRST record went out. Works on the RingWriter it was made for.
class FrameWriter {
 public:
  explicit FrameWriter(RingWriter* ring) : ring_(ring) {}

  // Starts sending `message` (at most 2^32 - 1 bytes; the caller checks). A message of at
  // most max_payload() bytes goes as one MESSAGE record.
  void begin(std::span<const std::byte> message) {
    message_ = message;
    sent_ = 0;
    started_ = false;
    active_ = true;
  }
  // begin(message) and the first attempt to write it: true when the whole message is
  // written. A message of one record with no CANCEL owed is written inline without storing
  // the cursor (begin()'s stores re-read at once cost a store-forwarding stall per message,
  // docs/benchmarks.md, core 64 B); if the ring has no room for it, the cursor is stored and
  // the caller waits for room before advance().
  bool start(std::span<const std::byte> message) {
    if (!cancel_owed_ && message.size() <= ring_->max_payload()) {
      if (ring_->write(message, RecordKind::message)) return true;
      begin(message);
      return false;
    }
    begin(message);
    return advance();
  }
  // Writes as many records of the message begun as fit (after any CANCEL owed). True when
  // the whole message is written (not yet published); false when the ring is full or failed.
  bool advance();
  bool in_progress() const { return active_; }
  // Ring bytes the next record of the message (or the owed CANCEL) needs.
  uint32_t next_record_bytes() const;

  // Abandons the message in progress. If its FIRST record went out, the receiver holds part
  // of it: a CANCEL is owed, written now if there is room, else before any other record.
  void cancel();
  // Forgets the message in progress without a CANCEL (the channel is ending: nothing more
  // will be read).
  void abandon() { active_ = false; }
  // Writes the CANCEL owed, if any. False when the ring has no room for it yet.
  bool pay_cancel() { return !cancel_owed_ || write_cancel(); }
  bool cancel_owed() const { return cancel_owed_; }

 private:
  bool write_cancel();

  RingWriter* ring_;
  std::span<const std::byte> message_;
  size_t sent_ = 0;       // message bytes in records written so far
  bool started_ = false;  // its FIRST record is written (sent_ > 0 may be a MESSAGE too)
  bool active_ = false;
  bool cancel_owed_ = false;
};

// Why a streamed message ended without its last fragment: the sender cancelled it (a
// CANCEL record; the channel goes on), or the channel ended (this side closed, the peer
// closed or failed, or this side failed: Endpoint::failure() names the reason).
enum class StreamEnd : uint8_t { cancelled, closed, peer_closed, peer_failed, failed };
const char* to_string(StreamEnd why);

// Takes the fragments of messages larger than one record as they arrive, instead of a
// reassembled message (the opt-in streaming receive, docs/api.md). Whole messages still go
// to the receive callback. Runs on the receiving thread; the views are valid only during
// the call (they point into the ring).
class FragmentSink {
 public:
  virtual ~FragmentSink() = default;
  // `bytes` are the message's bytes at [offset, offset + bytes.size()) of `total`. In
  // order, none empty; the first has offset 0, the last ends at total. `total` was checked
  // against max_message (C10) but is otherwise the sender's claim: the fragments that
  // follow are checked to add up to it exactly (C9), and the channel fails if they do not.
  virtual void on_fragment(uint32_t offset, uint32_t total, std::span<const std::byte> bytes) = 0;
  // The message being streamed ends without its last fragment; nothing more of it comes.
  virtual void on_abort(StreamEnd why) = 0;
};

// The receiving side of fragmentation: C8-C10 on every record, reassembly into a buffer
// kept between messages, or streaming to a FragmentSink.
class FrameReader {
 public:
  // deliver: a whole message in *deliver; streamed: the last fragment of a message went
  // to the sink (a whole message was received).
  enum class Step : uint8_t { more, deliver, streamed, failed };

  // `max_message`: the largest message accepted, one record or reassembled (C10).
  // `keep_assembly`: the keep limit of the reassembly buffer (kDefaultKeepAssembly says
  // what it means).
  explicit FrameReader(uint32_t max_message, uint32_t keep_assembly = kDefaultKeepAssembly)
      : max_message_(max_message), keep_assembly_(keep_assembly) {}

  // One record from RingReader::peek: a whole message ready in *deliver (valid until the
  // record is released or the next accept), more to come, or a violation (failure()).
  // A MESSAGE record outside a fragmented message and within max_message (C8 and C10 hold)
  // is delivered inline: called out of line for every record, the record went through the
  // stack and its 16-byte reload stalled on store forwarding (docs/benchmarks.md, core 64 B).
  Step accept(const Record& rec, std::span<const std::byte>* deliver) {
    if (rec.kind == RecordKind::message && !in_message_ && rec.payload.size() <= max_message_) {
      *deliver = rec.payload;
      return Step::deliver;
    }
    return accept_record(rec.kind, rec.payload, deliver);
  }
  // After the message accept() delivered was handed over: drops a buffer above the keep
  // limit so that one huge message does not pin its memory.
  void delivered();

  // Streams fragmented messages to `sink` (not owned; nullptr: reassemble). Change it only
  // between messages.
  void set_sink(FragmentSink* sink) { sink_ = sink; }
  FragmentSink* sink() const { return sink_; }
  // The channel ended or failed: a streamed message still open is aborted (its sink told).
  void end(StreamEnd why);

  bool in_message() const { return in_message_; }
  // Total length of the message being received (or just received).
  uint32_t total() const { return total_; }
  Reason failure() const { return failure_; }
  // Bytes held for reassembly (monitoring and tests).
  uint32_t buffer_capacity() const { return capacity_; }

  // The keep limit of the reassembly buffer, 64 MiB by default, one name and one meaning
  // in both languages (TS: DEFAULT_KEEP_ASSEMBLY, option keepAssembly): a message up to it
  // gets its whole size at once and its buffer is kept for the next message; a larger one
  // starts at the limit, doubles as its fragments arrive (a hostile FIRST costs memory in
  // proportion to the bytes sent) and its buffer is freed once it is delivered.
  static constexpr uint32_t kDefaultKeepAssembly = 64u << 20;
  [[deprecated("use kDefaultKeepAssembly")]] static constexpr uint32_t kDefaultKeep =
      kDefaultKeepAssembly;

 private:
  // By value: a Record whose address is taken is built in memory on every path.
  Step accept_record(RecordKind kind, std::span<const std::byte> payload,
                     std::span<const std::byte>* deliver);
  Step reject(Reason r);
  bool reserve(uint32_t need);
  Step first(std::span<const std::byte> payload);
  Step next(bool last, std::span<const std::byte> payload, std::span<const std::byte>* deliver);

  uint32_t max_message_;
  uint32_t keep_assembly_;
  FragmentSink* sink_ = nullptr;
  std::unique_ptr<std::byte[]> buffer_;
  uint32_t capacity_ = 0;
  uint32_t total_ = 0;
  uint32_t have_ = 0;
  bool in_message_ = false;
  FragmentSink* stream_ = nullptr;  // the sink the open message goes to (sink_ at its FIRST)
  Reason failure_ = Reason::none;
};

}  // namespace smc
