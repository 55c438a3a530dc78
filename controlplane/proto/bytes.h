// bytes.h - bounds-checked big-endian reader and writer for the tunnel codec.
//
// Reader never reads past its span: every accessor returns false once the
// input is exhausted, and the first failure sticks, so a decoder can read a
// whole layout and check ok() once.  Writer appends to a byte vector.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kp::proto::internal {

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  size_t pos() const { return pos_; }

  uint8_t U8() {
    uint8_t v = 0;
    Copy(&v, 1);
    return v;
  }
  uint16_t U16() {
    uint8_t b[2] = {};
    Copy(b, 2);
    return static_cast<uint16_t>((b[0] << 8) | b[1]);
  }
  uint32_t U32() {
    uint8_t b[4] = {};
    Copy(b, 4);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }
  uint64_t U64() {
    uint64_t hi = U32();
    return (hi << 32) | U32();
  }
  template <size_t N>
  void Array(std::array<uint8_t, N>& out) {
    Copy(out.data(), N);
  }
  std::string String(size_t n) {
    std::string s;
    if (!Need(n)) return s;
    s.assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  // True if the next n bytes exist and are all zero; consumes them.
  bool Zeros(size_t n) {
    if (!Need(n)) return false;
    for (size_t i = 0; i < n; ++i) {
      if (in_[pos_ + i] != 0) return false;
    }
    pos_ += n;
    return true;
  }
  void Skip(size_t n) {
    if (Need(n)) pos_ += n;
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  void Copy(uint8_t* out, size_t n) {
    if (!Need(n)) return;
    std::memcpy(out, in_.data() + pos_, n);
    pos_ += n;
  }

  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) {
    U8(static_cast<uint8_t>(v >> 8));
    U8(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v));
  }
  void U64(uint64_t v) {
    U32(static_cast<uint32_t>(v >> 32));
    U32(static_cast<uint32_t>(v));
  }
  void Raw(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void Str(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void Zeros(size_t n) { out_.insert(out_.end(), n, 0); }
  size_t size() const { return out_.size(); }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace kp::proto::internal
