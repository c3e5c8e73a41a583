#include "queue/queue_store.hpp"

#include "queue/queue_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

using namespace mta;

class QueueStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/mxqueueXXXXXX";
    root_ = ::mkdtemp(t);
    store_ = std::make_unique<queue::QueueStore>(root_);
    ASSERT_FALSE(store_->ensure_dirs());
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }
  std::string root_;
  std::unique_ptr<queue::QueueStore> store_;
};

TEST_F(QueueStoreTest, IdHasPostfixShape) {
  EXPECT_EQ(queue::make_queue_id(0x15BED, 0x104017), "15BED104017");
  EXPECT_EQ(queue::make_queue_id(7, 0x1A), "000071A");
}

TEST_F(QueueStoreTest, WriterCommitsUnderIdAndDiscardLeavesNothing) {
  queue::QueueWriter w;
  ASSERT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w));
  std::string id = w.id();
  EXPECT_TRUE(queue::looks_like_queue_id(id));
  EXPECT_TRUE(store_->list(queue::Q::incoming).empty()) << "an uncommitted file is listed";
  ASSERT_FALSE(w.write("data"));
  ASSERT_FALSE(w.commit());
  EXPECT_EQ(store_->list(queue::Q::incoming), std::vector<std::string>{id});
  struct stat st;
  ASSERT_EQ(::stat(store_->path(queue::Q::incoming, id).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  {
    queue::QueueWriter w2;
    ASSERT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w2));
  }  // destroyed without commit
  EXPECT_EQ(store_->list(queue::Q::incoming).size(), 1u);
  EXPECT_EQ(std::system(("test -z \"$(ls -A " + store_->dir(queue::Q::incoming) + " | grep '^\\.')\"").c_str()), 0);
}

TEST_F(QueueStoreTest, MovesAreRenamesIntoHashedDeferred) {
  queue::QueueWriter w;
  ASSERT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w));
  std::string id = w.id();
  ASSERT_FALSE(w.commit());
  ASSERT_FALSE(store_->move(queue::Q::incoming, queue::Q::active, id));
  ASSERT_FALSE(store_->move(queue::Q::active, queue::Q::deferred, id));
  EXPECT_EQ(store_->path(queue::Q::deferred, id), root_ + "/deferred/" + id.substr(0, 1) + "/" + id);
  EXPECT_EQ(store_->locate(id), queue::Q::deferred);
  EXPECT_EQ(store_->list(queue::Q::deferred), std::vector<std::string>{id});
  EXPECT_TRUE(store_->list(queue::Q::active).empty());
  EXPECT_TRUE(store_->move(queue::Q::active, queue::Q::hold, id)) << "moving a missing file must fail";
}

TEST_F(QueueStoreTest, ManyIdsAreDistinct) {
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    queue::QueueWriter w;
    ASSERT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w));
    ids.push_back(w.id());
    ASSERT_FALSE(w.commit());
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
}
