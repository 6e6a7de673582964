// Unit driver for the hls_stream.h model: FIFO order, empty/full/size, and that reading an
// empty stream is an error (a dataflow consumer outrunning its producer).
#include <stdexcept>

#include "hls_stream.h"

extern "C" {

// Writes 0..n-1, reads them back; returns the first failed check (1..4) or 0.
int sbf_test_stream_fifo(int n) {
  hls::stream<int> s("fifo");
  if (!s.empty() || s.full()) return 1;
  for (int i = 0; i < n; ++i) s.write(i);
  if (int(s.size()) != n || (n > 0 && s.empty())) return 2;
  for (int i = 0; i < n; ++i)
    if (s.read() != i) return 3;
  int v = 0;
  if (s.read_nb(v)) return 4;
  return 0;
}

// 1 when reading an empty stream throws, as it must.
int sbf_test_stream_underflow(void) {
  hls::stream<int> s("empty");
  try {
    s.read();
  } catch (const std::runtime_error&) {
    return 1;
  }
  return 0;
}
}
