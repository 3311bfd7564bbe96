#include "lmx/distributed/ring.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "lmx/backend/common/dispatch.h"

namespace lmx::distributed {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("[distributed] ring: " + what); }

std::string errno_text() { return std::strerror(errno); }

// "host:port" -> a resolved IPv4/IPv6 address.
struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;
};

Address resolve(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size())
    fail("the address '" + host_port + "' is not of the form host:port.");
  std::string host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    fail("cannot resolve '" + host_port + "': " + gai_strerror(rc) + ".");
  Address a;
  std::memcpy(&a.addr, res->ai_addr, res->ai_addrlen);
  a.len = static_cast<socklen_t>(res->ai_addrlen);
  a.text = host_port;
  freeaddrinfo(res);
  return a;
}

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~Socket() { reset(); }
  int fd() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

void tune(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // A peer whose machine dies sends no FIN: keepalive probes after 10 s of
  // silence, 6 unanswered 5 s apart, turn that into an error.
  int idle = 10, interval = 5, count = 6;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  int buffer = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  set_nonblocking(fd);
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// One transfer in flight on a socket: bytes still to send or to receive.
struct Transfer {
  int fd;
  char* data;
  size_t left;
  bool sending;
  int peer;
};

// Runs the transfers to completion together (a send and a receive on the
// same link at once cannot deadlock on full socket buffers). A peer that
// closes its end, or a socket error, raises.
void run_transfers(std::vector<Transfer> ts) {
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    for (auto& t : ts)
      if (t.left) fds.push_back({t.fd, static_cast<short>(t.sending ? POLLOUT : POLLIN), 0});
    if (fds.empty()) return;
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll failed: " + errno_text() + ".");
    }
    size_t k = 0;
    for (auto& t : ts) {
      if (!t.left) continue;
      const pollfd& p = fds[k++];
      if (!(p.revents & (POLLIN | POLLOUT | POLLERR | POLLHUP))) continue;
      ssize_t n = t.sending ? ::send(t.fd, t.data, t.left, MSG_NOSIGNAL) : ::recv(t.fd, t.data, t.left, 0);
      if (n > 0) {
        t.data += n;
        t.left -= static_cast<size_t>(n);
      } else if (n == 0 && !t.sending) {
        fail("rank " + std::to_string(t.peer) + " closed its connection (did that process exit or fail?).");
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        fail(std::string(t.sending ? "sending to" : "receiving from") + " rank " + std::to_string(t.peer) +
             " failed: " + errno_text() + ".");
      }
    }
  }
}

// dst[i] = op(dst[i], src[i]) for n elements of one dtype.
void reduce_into(void* dst, const void* src, size_t n, Dtype dtype, ReduceOp op) {
  dispatch_all(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto* d = static_cast<T*>(dst);
    auto* s = static_cast<const T*>(src);
    if (op == ReduceOp::sum) {
      for (size_t i = 0; i < n; ++i) d[i] = static_cast<T>(d[i] + s[i]);
    } else if constexpr (!std::is_same_v<T, complex64_t>) {
      // A NaN wins, so every rank agrees whatever the order.
      for (size_t i = 0; i < n; ++i) {
        const bool take = op == ReduceOp::max ? s[i] > d[i] : s[i] < d[i];
        if (take || s[i] != s[i]) d[i] = s[i];
      }
    } else {
      throw std::invalid_argument("[distributed] complex64 has no order for all_max/all_min.");
    }
  });
}

class RingCommunicator : public Communicator {
 public:
  RingCommunicator(int rank, std::vector<Socket> peers) : rank_(rank), peers_(std::move(peers)) {}
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(peers_.size()); }
  std::string backend() const override { return "ring"; }

  void all_reduce(void* data, size_t n, Dtype dtype, ReduceOp op) override {
    std::lock_guard lk(mu_);
    reduce_scatter_chunks(static_cast<char*>(data), n, dtype, op);
    all_gather_chunks(static_cast<char*>(data), n, dtype.size());
  }

  void all_gather(const void* in, void* out, size_t bytes) override {
    std::lock_guard lk(mu_);
    char* o = static_cast<char*>(out);
    std::memcpy(o + rank_ * bytes, in, bytes);
    // Pieces of equal size: piece r is rank r's.
    all_gather_chunks(o, bytes * size(), 1);
  }

  void reduce_scatter(const void* in, void* out, size_t n_out, Dtype dtype, ReduceOp op) override {
    std::lock_guard lk(mu_);
    std::vector<char> work(static_cast<const char*>(in),
                           static_cast<const char*>(in) + n_out * size() * dtype.size());
    reduce_scatter_chunks(work.data(), n_out * size(), dtype, op);
    std::memcpy(out, work.data() + rank_ * n_out * dtype.size(), n_out * dtype.size());
  }

  void send(const void* data, size_t bytes, int dst) override {
    std::lock_guard lk(mu_);
    uint64_t header = bytes;
    run_transfers({{peer(dst), reinterpret_cast<char*>(&header), sizeof header, true, dst}});
    run_transfers({{peer(dst), const_cast<char*>(static_cast<const char*>(data)), bytes, true, dst}});
  }

  void recv(void* data, size_t bytes, int src) override {
    std::lock_guard lk(mu_);
    uint64_t header = 0;
    run_transfers({{peer(src), reinterpret_cast<char*>(&header), sizeof header, false, src}});
    if (header != bytes)
      fail("rank " + std::to_string(src) + " sent " + std::to_string(header) + " bytes where recv expected " +
           std::to_string(bytes) + " (the shapes or dtypes of send and recv differ).");
    run_transfers({{peer(src), static_cast<char*>(data), bytes, false, src}});
  }

 private:
  int peer(int r) const { return peers_[r].fd(); }
  int right() const { return (rank_ + 1) % size(); }
  int left() const { return (rank_ + size() - 1) % size(); }
  // Chunk c of n elements: [n * c / size, n * (c + 1) / size).
  size_t chunk_begin(size_t n, int c) const { return n * static_cast<size_t>(c) / size(); }

  // After it, chunk r of `data` holds the reduction over all ranks (other
  // chunks hold partial sums): at step s rank r passes chunk r - s - 1 to
  // its right and folds chunk r - s - 2 from its left into its own.
  void reduce_scatter_chunks(char* data, size_t n, Dtype dtype, ReduceOp op) {
    const int p = size();
    const size_t item = dtype.size();
    std::vector<char> incoming((n / p + 1) * item);
    for (int s = 0; s + 1 < p; ++s) {
      const int send_c = ((rank_ - s - 1) % p + p) % p, recv_c = ((rank_ - s - 2) % p + p) % p;
      const size_t sb = chunk_begin(n, send_c), se = chunk_begin(n, send_c + 1);
      const size_t rb = chunk_begin(n, recv_c), re = chunk_begin(n, recv_c + 1);
      run_transfers({{peer(right()), data + sb * item, (se - sb) * item, true, right()},
                     {peer(left()), incoming.data(), (re - rb) * item, false, left()}});
      reduce_into(data + rb * item, incoming.data(), re - rb, dtype, op);
    }
  }

  // From chunk r complete on rank r to every chunk complete everywhere: at
  // step s rank r passes chunk r - s right and takes chunk r - s - 1 from
  // its left.
  void all_gather_chunks(char* data, size_t n, size_t item) {
    const int p = size();
    for (int s = 0; s + 1 < p; ++s) {
      const int send_c = ((rank_ - s) % p + p) % p, recv_c = ((rank_ - s - 1) % p + p) % p;
      const size_t sb = chunk_begin(n, send_c), se = chunk_begin(n, send_c + 1);
      const size_t rb = chunk_begin(n, recv_c), re = chunk_begin(n, recv_c + 1);
      run_transfers({{peer(right()), data + sb * item, (se - sb) * item, true, right()},
                     {peer(left()), data + rb * item, (re - rb) * item, false, left()}});
    }
  }

  int rank_;
  std::vector<Socket> peers_;  // by rank; this rank's own entry is empty
  std::mutex mu_;              // one collective at a time on the links
};

constexpr uint32_t kHandshake = 0x6c6d7872;  // "lmxr"

// Sends or receives a small fixed message within the deadline.
void handshake(int fd, void* data, size_t bytes, bool sending, Clock::time_point deadline, const std::string& who) {
  char* p = static_cast<char*>(data);
  while (bytes) {
    pollfd pf{fd, static_cast<short>(sending ? POLLOUT : POLLIN), 0};
    int rc = ::poll(&pf, 1, remaining_ms(deadline));
    if (rc == 0) fail("timed out exchanging ranks with " + who + ".");
    if (rc < 0 && errno != EINTR) fail("poll failed: " + errno_text() + ".");
    ssize_t n = sending ? ::send(fd, p, bytes, MSG_NOSIGNAL) : ::recv(fd, p, bytes, 0);
    if (n == 0 && !sending) fail(who + " closed the connection while exchanging ranks.");
    if (n > 0) p += n, bytes -= static_cast<size_t>(n);
  }
}

Socket connect_to(const Address& a, Clock::time_point deadline) {
  for (;;) {
    Socket s(::socket(a.addr.ss_family, SOCK_STREAM, 0));
    if (s.fd() < 0) fail("cannot create a socket: " + errno_text() + ".");
    if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&a.addr), a.len) == 0) return s;
    if (Clock::now() >= deadline) fail("could not connect to " + a.text + ": " + errno_text() + ".");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the peer may not listen yet
  }
}

}  // namespace

std::shared_ptr<Communicator> connect_ring(int rank, const std::vector<std::vector<std::string>>& hosts,
                                           double timeout_seconds) {
  const int size = static_cast<int>(hosts.size());
  for (int r = 0; r < size; ++r)
    if (hosts[r].empty()) fail("rank " + std::to_string(r) + " has no address in the hostfile.");
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  std::vector<Socket> peers(size);

  // Listen first, so lower ranks can connect while this one dials.
  Address own = resolve(hosts[rank][0]);
  Socket listener(::socket(own.addr.ss_family, SOCK_STREAM, 0));
  int one = 1;
  setsockopt(listener.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener.fd(), reinterpret_cast<const sockaddr*>(&own.addr), own.len) != 0)
    fail("rank " + std::to_string(rank) + " cannot listen on " + own.text + ": " + errno_text() + ".");
  ::listen(listener.fd(), size);

  // Every rank dials the ranks below it and is dialled by those above.
  for (int r = 0; r < rank; ++r) {
    Socket s = connect_to(resolve(hosts[r][0]), deadline);
    uint32_t hello[2] = {kHandshake, static_cast<uint32_t>(rank)};
    handshake(s.fd(), hello, sizeof hello, true, deadline, "rank " + std::to_string(r));
    peers[r] = std::move(s);
  }
  for (int accepted = 0; accepted < size - 1 - rank; ++accepted) {
    pollfd pf{listener.fd(), POLLIN, 0};
    if (::poll(&pf, 1, remaining_ms(deadline)) <= 0)
      fail("rank " + std::to_string(rank) + " timed out waiting for the higher ranks to connect to " + own.text +
           ".");
    Socket s(::accept(listener.fd(), nullptr, nullptr));
    if (s.fd() < 0) fail("accept failed: " + errno_text() + ".");
    uint32_t hello[2] = {0, 0};
    handshake(s.fd(), hello, sizeof hello, false, deadline, "a connecting process");
    const int r = static_cast<int>(hello[1]);
    if (hello[0] != kHandshake || r <= rank || r >= size || peers[r].fd() >= 0)
      fail("an unexpected process connected to " + own.text + ".");
    peers[r] = std::move(s);
  }
  for (int r = 0; r < size; ++r)
    if (r != rank) tune(peers[r].fd());
  return std::make_shared<RingCommunicator>(rank, std::move(peers));
}

}  // namespace lmx::distributed
