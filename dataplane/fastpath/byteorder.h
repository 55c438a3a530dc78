// byteorder.h - network-order integer types and unaligned loads/stores.
//
// API: `Be16`/`Be32` hold a value in network byte order so the type, not a
// comment, says which order a field is in; `Load*`/`Store*` read and write
// unaligned integers from packet bytes without undefined behaviour (memcpy,
// which the compiler turns into single moves).  Header-only, constexpr where
// possible, no dependencies beyond the standard library.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace kp::fp {

static_assert(std::endian::native == std::endian::little, "kiteplane assumes a little-endian host");

constexpr uint16_t Bswap16(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }
constexpr uint32_t Bswap32(uint32_t v) { return __builtin_bswap32(v); }
constexpr uint64_t Bswap64(uint64_t v) { return __builtin_bswap64(v); }

// A 16-bit value stored in network order.
struct Be16 {
  uint16_t raw;
  static constexpr Be16 FromHost(uint16_t v) { return Be16{Bswap16(v)}; }
  constexpr uint16_t Host() const { return Bswap16(raw); }
  friend constexpr bool operator==(Be16 a, Be16 b) { return a.raw == b.raw; }
};

// A 32-bit value stored in network order.
struct Be32 {
  uint32_t raw;
  static constexpr Be32 FromHost(uint32_t v) { return Be32{Bswap32(v)}; }
  constexpr uint32_t Host() const { return Bswap32(raw); }
  friend constexpr bool operator==(Be32 a, Be32 b) { return a.raw == b.raw; }
};

template <typename T>
inline T LoadRaw(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename T>
inline void StoreRaw(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(v));
}

inline uint16_t LoadBe16(const uint8_t* p) { return Bswap16(LoadRaw<uint16_t>(p)); }
inline uint32_t LoadBe32(const uint8_t* p) { return Bswap32(LoadRaw<uint32_t>(p)); }
inline void StoreBe16(uint8_t* p, uint16_t v) { StoreRaw<uint16_t>(p, Bswap16(v)); }
inline void StoreBe32(uint8_t* p, uint32_t v) { StoreRaw<uint32_t>(p, Bswap32(v)); }
inline uint64_t LoadLe64(const uint8_t* p) { return LoadRaw<uint64_t>(p); }
inline void StoreLe64(uint8_t* p, uint64_t v) { StoreRaw<uint64_t>(p, v); }

}  // namespace kp::fp
