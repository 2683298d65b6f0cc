#include "core/wiping_json.h"

#include <new>

#include <boost/json/memory_resource.hpp>

#include "core/secret_bytes.h"

namespace certgate {
namespace {

// Boost.JSON does not always pass the same alignment to deallocate as to
// allocate, so the alignment is not used to pick the operator: it never asks
// for more than the default new alignment.
class WipingResource final : public boost::json::memory_resource {
 private:
  void* do_allocate(size_t n, size_t align) override {
    if (align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) throw std::bad_alloc();
    return ::operator new(n);
  }
  void do_deallocate(void* p, size_t n, size_t) override {
    Wipe(p, n);
    ::operator delete(p);
  }
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override {
    return this == &other;
  }
};

}  // namespace

boost::json::storage_ptr MakeWipingJsonStorage() {
  return boost::json::make_shared_resource<WipingResource>();
}

}  // namespace certgate
