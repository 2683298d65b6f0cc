#include "core/secret_bytes.h"

#include <sodium.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace certgate {
namespace {

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();
}

// sodium_malloc maps fresh pages with guard pages around them and locks
// them, and sodium_free unmaps them: about six system calls and a TLB flush
// per secret, which was a sixth of a cold name's first handshake on the edge
// (bench/context_build_bench). Blocks of up to kLargestPooled bytes are kept
// instead, in size classes of powers of two, wiped whole when given back:
// the memory stays locked and guarded, and no secret outlives its owner.
class BlockPool {
 public:
  uint8_t* Take(size_t size) {
    const int c = ClassOf(size);
    if (c >= 0) {
      std::lock_guard lock(mu_);
      std::vector<uint8_t*>& free = free_[static_cast<size_t>(c)];
      if (!free.empty()) {
        uint8_t* block = free.back();
        free.pop_back();
        return block;  // wiped when given back
      }
    }
    EnsureSodium();
    const size_t bytes = c >= 0 ? ClassSize(c) : size;
    auto* block = static_cast<uint8_t*>(sodium_malloc(bytes));
    if (block == nullptr) std::abort();
    sodium_memzero(block, bytes);
    return block;
  }

  void Give(uint8_t* block, size_t size) {
    const int c = ClassOf(size);
    if (c >= 0) {
      sodium_memzero(block, ClassSize(c));
      std::lock_guard lock(mu_);
      std::vector<uint8_t*>& free = free_[static_cast<size_t>(c)];
      if (free.size() < kKeptPerClass) {
        free.push_back(block);
        return;
      }
    }
    sodium_free(block);  // wipes before unmapping
  }

 private:
  static constexpr size_t kSmallestPooled = 64;
  static constexpr size_t kLargestPooled = 16 * 1024;
  static constexpr size_t kClasses = 9;  // 64 B .. 16 KiB
  static constexpr size_t kKeptPerClass = 32;

  static size_t ClassSize(int c) { return kSmallestPooled << c; }
  // The class of size, or -1 for blocks too large to keep.
  static int ClassOf(size_t size) {
    if (size > kLargestPooled) return -1;
    int c = 0;
    while (ClassSize(c) < size) ++c;
    return c;
  }

  std::mutex mu_;
  std::array<std::vector<uint8_t*>, kClasses> free_;  // GUARDED_BY(mu_)
};

// Never destroyed: SecretBytes in static objects may be released after
// main returns.
BlockPool& SecretBlocks() {
  static auto* pool = new BlockPool;
  return *pool;
}

}  // namespace

SecretBytes::SecretBytes(size_t size) : size_(size) {
  if (size == 0) return;
  data_ = SecretBlocks().Take(size);
}

SecretBytes SecretBytes::CopyOf(std::span<const uint8_t> bytes) {
  SecretBytes s(bytes.size());
  if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
  return s;
}

SecretBytes SecretBytes::CopyOf(std::string_view bytes) {
  return CopyOf(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

SecretBytes::~SecretBytes() { Release(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecretBytes::Release() {
  if (data_ != nullptr) SecretBlocks().Give(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

bool SecretBytes::Equals(std::span<const uint8_t> other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

void Wipe(void* data, size_t len) {
  if (data != nullptr && len > 0) sodium_memzero(data, len);
}

}  // namespace certgate
