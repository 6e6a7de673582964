// A C-simulation model of Vitis HLS `hls::stream<T>`: a FIFO over std::deque.
//
// Why our own: the real header ships with Vitis; C simulation here must build with only
// g++ and the open-source ap_types. Like Vitis csim, the model is unbounded (the depth is a
// synthesis pragma), and reading an empty stream is an error, which catches a dataflow
// stage that consumes more than its producer wrote. It refuses synthesis on purpose.
#ifndef SBF_HLS_STREAM_H
#define SBF_HLS_STREAM_H

#ifdef __SYNTHESIS__
#error "sbf hls_stream.h is a C-simulation model; synthesis must use the Vitis hls_stream.h"
#endif

#include <cstddef>
#include <deque>
#include <stdexcept>
#include <string>

namespace hls {

template <typename T>
class stream {
 public:
  stream() : name_("hls::stream") {}
  explicit stream(const char* name) : name_(name) {}
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  bool empty() const { return fifo_.empty(); }
  // Unbounded in C simulation, as in Vitis csim: a write never blocks.
  bool full() const { return false; }
  std::size_t size() const { return fifo_.size(); }

  T read() {
    if (fifo_.empty()) throw std::runtime_error("read from empty stream '" + name_ + "'");
    T v = fifo_.front();
    fifo_.pop_front();
    return v;
  }
  void read(T& v) { v = read(); }
  bool read_nb(T& v) {
    if (fifo_.empty()) return false;
    v = read();
    return true;
  }
  void write(const T& v) { fifo_.push_back(v); }
  bool write_nb(const T& v) {
    write(v);
    return true;
  }
  void operator>>(T& v) { read(v); }
  void operator<<(const T& v) { write(v); }

 private:
  std::string name_;
  std::deque<T> fifo_;
};

}  // namespace hls

#endif  // SBF_HLS_STREAM_H
