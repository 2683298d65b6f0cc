// SecretBytes: the only container for plaintext key material (private keys,
// master keys). Memory comes from sodium_malloc (guard pages, locked against
// swapping where the OS allows) and is wiped when the object is destroyed;
// blocks of up to 16 KiB are then kept, wiped, for the next secret rather
// than unmapped (see secret_bytes.cc).
// Move-only; never copy its bytes into std::string, logs or responses.
// Not synchronised: one owner at a time, like std::vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace certgate {

class SecretBytes {
 public:
  SecretBytes() = default;
  // Allocates size zeroed bytes. Aborts if memory is exhausted.
  explicit SecretBytes(size_t size);
  // Copies the bytes in.
  static SecretBytes CopyOf(std::span<const uint8_t> bytes);
  static SecretBytes CopyOf(std::string_view bytes);
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

  // Constant-time comparison.
  bool Equals(std::span<const uint8_t> other) const;

 private:
  void Release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Overwrites memory that held a secret (a request body, a decoded PEM) so that
// the bytes do not linger after use.
void Wipe(void* data, size_t len);
inline void Wipe(std::span<char> s) { Wipe(s.data(), s.size()); }

}  // namespace certgate
