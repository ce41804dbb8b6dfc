// The stream decoder's pending bytes: owned chunks followed by the chunk being pushed,
// borrowed until retain(); packets are copied out of it once, when complete.
#include <algorithm>
#include <cstring>

#include "smc/bpg.hpp"

namespace smc::bpg {

void Decoder::ByteQueue::borrow(std::span<const uint8_t> chunk) {
  borrowed_ = chunk;
  size_ += chunk.size();
}

void Decoder::ByteQueue::retain() {
  if (borrowed_.empty()) return;
  // Tiny chunks are coalesced so a byte-at-a-time stream does not cost a node per byte.
  constexpr size_t kCoalesceBelow = 4096;
  if (!owned_.empty() && owned_.back().size() < kCoalesceBelow) {
    owned_.back().insert(owned_.back().end(), borrowed_.begin(), borrowed_.end());
  } else {
    owned_.emplace_back(borrowed_.begin(), borrowed_.end());
  }
  borrowed_ = {};
}

void Decoder::ByteQueue::copy_out(size_t offset, std::span<uint8_t> dst) const {
  size_t done = 0;
  auto take = [&](const uint8_t* data, size_t size) {
    if (offset >= size) {
      offset -= size;
      return;
    }
    const size_t n = std::min(size - offset, dst.size() - done);
    std::memcpy(dst.data() + done, data + offset, n);
    done += n;
    offset = 0;
  };
  for (size_t i = 0; i < owned_.size() && done < dst.size(); ++i) {
    const size_t start = i == 0 ? head_ : 0;
    take(owned_[i].data() + start, owned_[i].size() - start);
  }
  if (done < dst.size()) take(borrowed_.data(), borrowed_.size());
}

void Decoder::ByteQueue::consume(size_t n) {
  size_ -= n;
  while (n > 0 && !owned_.empty()) {
    const size_t avail = owned_.front().size() - head_;
    if (n < avail) {
      head_ += n;
      return;
    }
    n -= avail;
    owned_.pop_front();
    head_ = 0;
  }
  if (n > 0) borrowed_ = borrowed_.subspan(n);
}

std::span<const uint8_t> Decoder::ByteQueue::front() const {
  if (!owned_.empty()) {
    return std::span<const uint8_t>(owned_.front()).subspan(head_);
  }
  return borrowed_;
}

}  // namespace smc::bpg
