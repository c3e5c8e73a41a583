#include "queue/queue_store.hpp"

#include "queue/queue_file.hpp"

#include <dirent.h>
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

// ---- reuse of delivered files (QueueStore::retire, QueueWriter over .reuse.OLDID)

namespace {

core::Message message(const std::string& id, const std::string& body) {
  core::Message m;
  m.env.id = id;
  m.env.arrival = {1700000000, 42};
  m.env.sender = "a@example.com";
  core::Recipient r;
  r.address = "b@example.net";
  m.env.rcpts.push_back(r);
  m.content = body;
  return m;
}

std::string slurp(const std::string& path) {
  std::string s;
  EXPECT_FALSE(util::read_file(path, s)) << path;
  return s;
}

std::vector<std::string> dot_files(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* dp = ::opendir(dir.c_str())) {
    while (auto* de = ::readdir(dp)) {
      std::string n = de->d_name;
      if (n != "." && n != ".." && n[0] == '.') out.push_back(n);
    }
    ::closedir(dp);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

class QueueReuseTest : public QueueStoreTest {
 protected:
  // A committed message in active/, as the queue manager leaves it after delivery.
  std::string delivered(const std::string& body) {
    queue::QueueWriter w;
    EXPECT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w));
    std::string id = w.id();
    EXPECT_FALSE(w.write(queue::serialize(message(id, body))));
    EXPECT_FALSE(w.commit());
    EXPECT_FALSE(store_->move(queue::Q::incoming, queue::Q::active, id, false));
    return id;
  }
  // A new message holding `body` in w, written but not committed; `reused`:
  // whether w must have taken a kept file.
  void write_new(queue::QueueWriter& w, const std::string& body, bool reused) {
    ASSERT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w));
    ASSERT_EQ(w.reused(), reused);
    ASSERT_FALSE(w.write(queue::serialize(message(w.id(), body))));
  }
};

TEST_F(QueueReuseTest, OffByDefaultRetireUnlinks) {
  std::string id = delivered("x\n");
  ASSERT_FALSE(store_->retire(queue::Q::active, id));
  EXPECT_FALSE(util::exists(store_->path(queue::Q::active, id)));
  EXPECT_TRUE(dot_files(store_->dir(queue::Q::incoming)).empty());
}

TEST_F(QueueReuseTest, RetiredFileIsWrittenOverAndPadded) {
  store_->enable_reuse(4);  // a batch of one: promoted at once
  std::string old = delivered(std::string(3000, 'o') + "\n");
  struct stat before;
  ASSERT_EQ(::stat(store_->path(queue::Q::active, old).c_str(), &before), 0);
  ASSERT_FALSE(store_->retire(queue::Q::active, old));
  EXPECT_FALSE(util::exists(store_->path(queue::Q::active, old)));
  EXPECT_EQ(dot_files(store_->dir(queue::Q::incoming)), std::vector<std::string>{".reuse." + old});
  EXPECT_EQ(store_->reuse_stats().ready, 1u);

  queue::QueueWriter w;
  ASSERT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w));
  EXPECT_TRUE(w.reused());
  EXPECT_NE(w.id(), old);
  std::string id = w.id();
  std::string bytes = queue::serialize(message(id, "short\n"));
  ASSERT_FALSE(w.write(bytes));
  ASSERT_FALSE(w.commit());
  EXPECT_TRUE(dot_files(store_->dir(queue::Q::incoming)).empty()) << "the .reuse name is left behind";
  struct stat after;
  ASSERT_EQ(::stat(store_->path(queue::Q::incoming, id).c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "not the same file";
  EXPECT_GE(after.st_size, before.st_size) << "a reused file must not shrink";
  std::string on_disk = slurp(store_->path(queue::Q::incoming, id));
  ASSERT_EQ(on_disk.substr(0, bytes.size()), bytes);
  EXPECT_EQ(on_disk.find_first_not_of('\0', bytes.size()), std::string::npos) << "old bytes after the end record";
  core::Envelope e;
  std::string content;
  ASSERT_EQ(queue::parse(on_disk, e, &content), "");
  EXPECT_EQ(e.id, id);
  EXPECT_EQ(content, "short\n");
}

TEST_F(QueueReuseTest, LongerMessageGrowsTheFileByWholeBlocks) {
  store_->enable_reuse(4);
  std::string old = delivered("tiny\n");
  ASSERT_FALSE(store_->retire(queue::Q::active, old));
  queue::QueueWriter w;
  ASSERT_NO_FATAL_FAILURE(write_new(w, std::string(9000, 'l') + "\n", true));
  std::string id = w.id();
  ASSERT_FALSE(w.commit());
  struct stat st;
  ASSERT_EQ(::stat(store_->path(queue::Q::incoming, id).c_str(), &st), 0);
  EXPECT_EQ(st.st_size % 4096, 0);
  core::Envelope e;
  std::string content;
  ASSERT_EQ(queue::parse(slurp(store_->path(queue::Q::incoming, id)), e, &content), "");
  EXPECT_EQ(content.size(), 9001u);
}

TEST_F(QueueReuseTest, DiscardGivesAnUnwrittenFileBackAndRemovesAWrittenOne) {
  store_->enable_reuse(8);
  std::string a = delivered("a\n"), b = delivered("b\n");
  ASSERT_FALSE(store_->retire(queue::Q::active, a));
  ASSERT_FALSE(store_->retire(queue::Q::active, b));
  ASSERT_EQ(store_->reuse_stats().ready, 2u);
  {
    queue::QueueWriter w;
    ASSERT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w));
    ASSERT_TRUE(w.reused());
  }  // a session that ended before its data
  EXPECT_EQ(store_->reuse_stats().ready, 2u);
  EXPECT_EQ(dot_files(store_->dir(queue::Q::incoming)).size(), 2u);
  {
    queue::QueueWriter w;
    ASSERT_NO_FATAL_FAILURE(write_new(w, "never committed\n", true));
  }
  EXPECT_EQ(store_->reuse_stats().ready, 1u);
  EXPECT_EQ(dot_files(store_->dir(queue::Q::incoming)).size(), 1u) << "a half-new file must go";
}

// smtpd's commit on the loop: sync() before the 250, publish() after it.
TEST_F(QueueReuseTest, SyncedFileIsNamedByPublishAndKeptByDiscard) {
  store_->enable_reuse(4);
  std::string a = delivered("a\n"), b = delivered("b\n");
  ASSERT_FALSE(store_->retire(queue::Q::active, a));
  ASSERT_FALSE(store_->retire(queue::Q::active, b));
  std::string in = store_->dir(queue::Q::incoming);

  queue::QueueWriter w;
  ASSERT_NO_FATAL_FAILURE(write_new(w, "published\n", true));
  std::string id = w.id();
  ASSERT_FALSE(w.sync());
  EXPECT_FALSE(util::exists(store_->path(queue::Q::incoming, id))) << "sync() must leave the rename to publish()";
  ASSERT_FALSE(w.publish());
  EXPECT_TRUE(util::exists(store_->path(queue::Q::incoming, id)));
  EXPECT_FALSE(w.publish()) << "a second publish() is a no-op";
  w.discard();
  EXPECT_TRUE(util::exists(store_->path(queue::Q::incoming, id))) << "discard() after publish() removed the message";

  // Synced, never published (the session died between): discard() keeps
  // the file, and start-up recovery gives the message its id.
  queue::QueueWriter v;
  ASSERT_NO_FATAL_FAILURE(write_new(v, "synced only\n", true));
  std::string id2 = v.id();
  ASSERT_FALSE(v.sync());
  v.discard();
  EXPECT_EQ(dot_files(in).size(), 1u) << "discard() threw away a synced message";
  std::vector<std::string> log;
  store_->recover_reused(log);
  EXPECT_TRUE(util::exists(store_->path(queue::Q::incoming, id2)));
  EXPECT_TRUE(dot_files(in).empty());
}

TEST_F(QueueReuseTest, PublishIsANoOpForANewFile) {
  queue::QueueWriter w;
  ASSERT_NO_FATAL_FAILURE(write_new(w, "new\n", false));
  std::string id = w.id();
  ASSERT_FALSE(w.sync());
  EXPECT_TRUE(util::exists(store_->path(queue::Q::incoming, id))) << "a new file is named by sync()";
  ASSERT_FALSE(w.publish());
  EXPECT_TRUE(util::exists(store_->path(queue::Q::incoming, id)));
  EXPECT_TRUE(dot_files(store_->dir(queue::Q::incoming)).empty());
}

TEST_F(QueueReuseTest, LimitIsKept) {
  store_->enable_reuse(2);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(delivered("m\n"));  // before any retire: none reused
  for (const auto& id : ids) ASSERT_FALSE(store_->retire(queue::Q::active, id));
  auto s = store_->reuse_stats();
  EXPECT_EQ(s.ready + s.pending, 2u);
  EXPECT_EQ(dot_files(store_->dir(queue::Q::incoming)).size(), 2u);
  EXPECT_TRUE(store_->list(queue::Q::active).empty());
}

TEST_F(QueueReuseTest, PendingFilesAreNotWrittenOverBeforeTheDirectoryFsync) {
  store_->enable_reuse(64);  // batches of 16
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(delivered("m\n"));
  for (int i = 0; i < 15; ++i) ASSERT_FALSE(store_->retire(queue::Q::active, ids[i]));
  EXPECT_EQ(store_->reuse_stats().ready, 0u);
  EXPECT_EQ(store_->reuse_stats().pending, 15u);
  queue::QueueWriter w;
  ASSERT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w));
  EXPECT_FALSE(w.reused());
  ASSERT_FALSE(store_->retire(queue::Q::active, ids[15]));
  EXPECT_EQ(store_->reuse_stats().ready, 16u);
}

// What a crash can leave in incoming/.reuse.OLDID, and what start-up makes of it.
TEST_F(QueueReuseTest, RecoveryKeepsCommittedMessagesOnly) {
  std::string in = store_->dir(queue::Q::incoming);
  auto put = [&](const std::string& name, const std::string& bytes) {
    ASSERT_FALSE(util::write_file_atomic(in + "/" + name, bytes, 0700));
  };
  // committed, renamed to its id never reached the disk: recovered
  put(".reuse.AAAAA11", queue::serialize(message("BBBBB11", "new\n")) + std::string(100, '\0'));
  // the old message, never written over: removed
  put(".reuse.CCCCC22", queue::serialize(message("CCCCC22", "old\n")));
  // new header blocks over an old tail (torn write): the checksum says no
  std::string torn = queue::serialize(message("DDDDD33", std::string(200, 'n') + "\n"));
  torn.replace(40, 10, "oooooooooo");
  put(".reuse.EEEEE44", torn);
  // only zeros (a write that never reached the disk over a zeroed file)
  put(".reuse.FFFFF55", std::string(4096, '\0'));
  // an ordinary temporary file: not for recover_reused
  put(".123.4.tmp", "partial");
  std::vector<std::string> log;
  store_->recover_reused(log);
  EXPECT_EQ(store_->list(queue::Q::incoming), std::vector<std::string>{"BBBBB11"});
  EXPECT_EQ(dot_files(in), std::vector<std::string>{".123.4.tmp"});
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("BBBBB11: recovered from incoming/.reuse.AAAAA11"), std::string::npos) << log[0];
  core::Envelope e;
  ASSERT_EQ(queue::parse(slurp(store_->path(queue::Q::incoming, "BBBBB11")), e, nullptr), "");
}

TEST_F(QueueReuseTest, BigFilesAreNotKept) {
  store_->enable_reuse(4);
  std::string id = delivered(std::string(100 * 1024, 'b') + "\n");
  ASSERT_FALSE(store_->retire(queue::Q::active, id));
  EXPECT_FALSE(util::exists(store_->path(queue::Q::active, id)));
  EXPECT_TRUE(dot_files(store_->dir(queue::Q::incoming)).empty());
  EXPECT_EQ(store_->reuse_stats().ready, 0u);
}
