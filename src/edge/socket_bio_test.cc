#include "edge/socket_bio.h"

#include <string>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace certgate::edge {
namespace {

// Over a SOCK_SEQPACKET pair every send is one message, so the reader sees
// exactly how the writes were grouped.
class SocketBioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, fds_), 0);
    bio_ = SocketBio::New(fds_[0]);
    ASSERT_NE(bio_, nullptr);
    state_ = SocketBio::Of(bio_);
    ASSERT_NE(state_, nullptr);
  }
  void TearDown() override {
    BIO_free(bio_);
    close(fds_[0]);
    close(fds_[1]);
  }
  // The next message the peer receives, or "" if none is waiting.
  std::string NextMessage() {
    std::string buf(64 * 1024, '\0');
    ssize_t n = recv(fds_[1], buf.data(), buf.size(), 0);
    return n > 0 ? buf.substr(0, static_cast<size_t>(n)) : std::string();
  }
  int fds_[2] = {-1, -1};
  BIO* bio_ = nullptr;
  SocketBio* state_ = nullptr;
};

TEST_F(SocketBioTest, SmallWritesAreHeldAndLeaveInOneSend) {
  EXPECT_EQ(BIO_write(bio_, "ticket|", 7), 7);
  EXPECT_EQ(BIO_write(bio_, "response|", 9), 9);
  EXPECT_EQ(BIO_flush(bio_), 1);  // OpenSSL's flush does not send
  EXPECT_EQ(NextMessage(), "");
  EXPECT_EQ(state_->held(), 16u);
  EXPECT_EQ(state_->Flush(), SocketBio::FlushResult::kDone);
  EXPECT_EQ(NextMessage(), "ticket|response|");
  EXPECT_EQ(state_->held(), 0u);
  EXPECT_EQ(NextMessage(), "");
}

TEST_F(SocketBioTest, ALargeWriteSendsWhatIsHeldFirstThenGoesStraightOut) {
  const std::string big(SocketBio::kHoldLimit + 1, 'b');
  EXPECT_EQ(BIO_write(bio_, "small", 5), 5);
  EXPECT_EQ(BIO_write(bio_, big.data(), static_cast<int>(big.size())),
            static_cast<int>(big.size()));
  EXPECT_EQ(NextMessage(), "small");
  EXPECT_EQ(NextMessage(), big);
  EXPECT_EQ(state_->held(), 0u);
}

TEST_F(SocketBioTest, ReadsTheSocketAndReportsEndAndRetry) {
  char buf[16];
  EXPECT_LE(BIO_read(bio_, buf, sizeof buf), 0);
  EXPECT_TRUE(BIO_should_retry(bio_)) << "nothing to read yet must be a retry";
  ASSERT_EQ(send(fds_[1], "hello", 5, 0), 5);
  EXPECT_EQ(BIO_read(bio_, buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_EQ(BIO_eof(bio_), 0);
  shutdown(fds_[1], SHUT_WR);
  EXPECT_EQ(BIO_read(bio_, buf, sizeof buf), 0);
  EXPECT_FALSE(BIO_should_retry(bio_));
  EXPECT_EQ(BIO_eof(bio_), 1);
}

TEST_F(SocketBioTest, AFlushToAClosedPeerIsAnErrorAndNotAnotherBio) {
  BIO* other = BIO_new(BIO_s_null());
  EXPECT_EQ(SocketBio::Of(other), nullptr);
  BIO_free(other);
  EXPECT_EQ(BIO_write(bio_, "x", 1), 1);
  close(fds_[1]);
  fds_[1] = -1;
  EXPECT_EQ(state_->Flush(), SocketBio::FlushResult::kError);
}

}  // namespace
}  // namespace certgate::edge
