#include "local/deliver.hpp"

#include "core/aliases.hpp"
#include "core/maps.hpp"
#include "local/testing.hpp"
#include "queue/queue_file.hpp"
#include "util/log.hpp"

#include <dirent.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

using namespace mta;
using namespace mta::local;
using local::testing::FakeUsers;
using local::testing::make_home;
using local::testing::slurp;
using local::testing::TempDir;

namespace {

int count_messages(const std::string& mbox) {
  std::string s = slurp(mbox);
  int n = 0;
  for (size_t i = 0; (i = s.find("From ", i)) != std::string::npos; ++i)
    if (i == 0 || s[i - 1] == '\n') ++n;
  return n;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

}  // namespace

class DelivererTest : public ::testing::Test {
 protected:
  TempDir t;
  std::string spool, queue_dir, aliases, out_dir;
  std::shared_ptr<FakeUsers> users = std::make_shared<FakeUsers>();
  std::unique_ptr<queue::QueueStore> store;
  std::string extra;

  void SetUp() override {
    setenv("TZ", "UTC", 1);
    log::Target lt = log::target();
    lt.to_stderr = false;  // warnings are expected in several cases
    log::configure(lt);
    spool = t / "spool";
    ::mkdir(spool.c_str(), 01777);
    ::chmod(spool.c_str(), 01777);
    out_dir = t / "out";
    ::mkdir(out_dir.c_str(), 0777);
    ::chmod(out_dir.c_str(), 0777);
    queue_dir = t / "queue";
    store = std::make_unique<queue::QueueStore>(queue_dir);
    ASSERT_FALSE(store->ensure_dirs());
    aliases = t / "aliases";
    for (const char* u : {"alice", "bob", "carol", "admin"}) users->add(u, make_home(t, u));
    users->add("nobody", "/nonexistent", local::testing::nobody_uid(), local::testing::nobody_uid());
    write_aliases("postmaster: root\n");
  }

  void write_aliases(const std::string& text) {
    ASSERT_FALSE(util::write_file_atomic(aliases, text, 0644));
    std::vector<std::string> w;
    core::write_hash_db(core::hash_db_path(aliases),
                        core::alias_table(core::parse_aliases(text, aliases, &w), core::hash_db_path(aliases), &w));
    ASSERT_TRUE(w.empty()) << w[0];
  }

  core::Config config() {
    std::string text = fmt::format(
        "myhostname = mx.example.test\n"
        "mydomain = example.test\n"
        "myorigin = $mydomain\n"
        "mydestination = $mydomain, $myhostname, localhost\n"
        "inet_interfaces = 127.0.0.1\n"
        "mail_name = mxmta\n"
        "mail_spool_directory = {}\n"
        "alias_maps = hash:{}\n"
        "alias_database = hash:{}\n"
        "deliver_lock_attempts = 2\n"
        "deliver_lock_delay = 0\n"
        "queue_directory = {}\n",
        spool, aliases, aliases, queue_dir);
    return core::Config::from_text(text + extra, "main.cf");
  }

  core::Message message(const std::string& rcpt, const std::string& content = "Subject: test\n\nFrom the start\nbody\n") {
    core::Message m;
    m.env.id = "4A3B2C1D0E";
    m.env.sender = "x@example.net";
    core::Recipient r;
    r.address = rcpt;
    m.env.rcpts.push_back(r);
    m.content = content;
    return m;
  }

  RcptOutcome run(const core::Message& m, size_t i = 0) {
    core::Config c = config();
    Deliverer d(Settings::from(c), cleanup::Settings::from(c), std::make_shared<core::Router>(c), *store, users);
    return d.deliver(m, i, m.env.rcpts[i].address, "local");
  }

  core::Message queued(const std::string& id) {
    core::Message m;
    auto r = queue::read_queue_file(store->path(queue::Q::incoming, id), m.env, &m.content);
    EXPECT_TRUE(r.ok()) << r.bad << r.ec.message();
    return m;
  }

  std::string mailbox(const std::string& u) { return spool + "/" + u; }
};

TEST_F(DelivererTest, MailboxLayoutAndOwnership) {
  auto o = run(message("alice@example.test"));
  EXPECT_EQ(o.result.dsn, "2.0.0");
  EXPECT_EQ(o.result.reason, "delivered to mailbox");
  EXPECT_EQ(o.result.relay, "local");
  std::string box = slurp(mailbox("alice"));
  ASSERT_EQ(box.rfind("From x@example.net  ", 0), 0u) << box;
  auto nl = box.find('\n');
  EXPECT_EQ(nl, std::string("From x@example.net  Sat Nov 28 06:48:41 2026").size());
  EXPECT_EQ(box.substr(nl + 1),
            "Return-Path: <x@example.net>\n"
            "X-Original-To: alice@example.test\n"
            "Delivered-To: alice@example.test\n"
            "Subject: test\n"
            "\n"
            ">From the start\n"
            "body\n"
            "\n");
  struct stat st;
  ASSERT_EQ(::stat(mailbox("alice").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, local::testing::user_uid());
}

TEST_F(DelivererTest, UnknownUserBounces) {
  auto o = run(message("nosuch@example.test"));
  EXPECT_EQ(o.result.dsn, "5.1.1");
  EXPECT_EQ(o.result.reason, "unknown user: \"nosuch\"");
  EXPECT_EQ(o.result.diagnostic, "");  // bounce writes "X-$mail_name; unknown user: ..."
  EXPECT_EQ(o.result.kind(), '5');
}

TEST_F(DelivererTest, LocalPartIsFoldedAndExtensionRetried) {
  extra = "recipient_delimiter = +\n";
  auto m = message("Alice+Lists@example.test");
  m.env.rcpts[0].orig = "Alice+Lists";
  auto o = run(m);
  EXPECT_EQ(o.result.reason, "delivered to mailbox") << o.result.reason;
  std::string box = slurp(mailbox("alice"));
  EXPECT_NE(box.find("\nX-Original-To: Alice+Lists\nDelivered-To: Alice+Lists@example.test\n"), std::string::npos) << box;
  // An alias for the full local part wins over the bare user.
  write_aliases("alice+lists: bob\n");
  o = run(message("alice+lists@example.test"));
  EXPECT_EQ(count_messages(mailbox("bob")), 1);
}

TEST_F(DelivererTest, AliasListExpandsInProcess) {
  write_aliases("sales: alice,\n  bob\n");
  auto o = run(message("sales@example.test"));
  EXPECT_EQ(o.result.dsn, "2.0.0");
  EXPECT_EQ(o.result.reason, "delivered to mailbox");
  ASSERT_EQ(o.leaves.size(), 2u);
  EXPECT_EQ(o.leaves[0].address, "alice@example.test");
  EXPECT_EQ(o.leaves[1].address, "bob@example.test");
  for (const char* u : {"alice", "bob"}) {
    std::string box = slurp(mailbox(u));
    EXPECT_NE(box.find("\nX-Original-To: sales@example.test\nDelivered-To: sales@example.test\n"), std::string::npos)
        << u << ": " << box;
  }
}

TEST_F(DelivererTest, RemoteAddressIsForwardedAsANewMessage) {
  write_aliases("fwd: alice, dave@remote.example\n");
  auto m = message("fwd@example.test");
  auto o = run(m);
  ASSERT_EQ(o.queued.size(), 1u);
  const std::string id = o.queued[0];
  EXPECT_EQ(o.result.reason, "delivered to mailbox; forwarded as " + id);
  EXPECT_EQ(count_messages(mailbox("alice")), 1);
  core::Message q = queued(id);
  EXPECT_EQ(q.env.sender, "x@example.net");
  ASSERT_EQ(q.env.rcpts.size(), 1u);
  EXPECT_EQ(q.env.rcpts[0].address, "dave@remote.example");
  EXPECT_EQ(q.env.rcpts[0].orig, "fwd@example.test");
  EXPECT_EQ(q.content.rfind("Received: by mx.example.test (mxmta)\n\tid " + id + "; ", 0), 0u) << q.content;
  EXPECT_NE(q.content.find("\nDelivered-To: fwd@example.test\nSubject: test\n\nFrom the start\n"), std::string::npos)
      << q.content;
}

TEST_F(DelivererTest, OwnerAliasRequeuesTheListWithTheOwnerAsSender) {
  write_aliases("list: alice, bob\nowner-list: carol\n");
  auto o = run(message("list@example.test"));
  ASSERT_EQ(o.queued.size(), 1u);
  EXPECT_EQ(o.result.reason, "forwarded as " + o.queued[0]);
  // One report for the list (suite case local.owner-alias: Postfix logs
  // "to=<list@...>, relay=local, ... status=sent (forwarded as ID)" once).
  ASSERT_EQ(o.leaves.size(), 1u);
  EXPECT_EQ(o.leaves[0].address, "list@example.test");
  EXPECT_EQ(o.leaves[0].status.text, "forwarded as " + o.queued[0]);
  EXPECT_FALSE(util::exists(mailbox("alice")));  // delivered later, from the new message
  core::Message q = queued(o.queued[0]);
  EXPECT_EQ(q.env.sender, "owner-list@example.test");
  ASSERT_EQ(q.env.rcpts.size(), 2u);
  EXPECT_EQ(q.env.rcpts[0].address, "alice@example.test");
  EXPECT_EQ(q.env.rcpts[1].address, "bob@example.test");
  EXPECT_TRUE(q.env.rcpts[0].orig.empty());  // a list is a new message
  EXPECT_NE(q.content.find("\nDelivered-To: list@example.test\n"), std::string::npos);
  // Delivering the copy to alice: her mailbox shows the owner as sender.
  q.env.rcpts.resize(1);
  auto o2 = run(q);
  EXPECT_EQ(o2.result.reason, "delivered to mailbox");
  EXPECT_EQ(slurp(mailbox("alice")).rfind("From owner-list@example.test  ", 0), 0u);
}

TEST_F(DelivererTest, ExpandOwnerAliasUsesTheOwnersValue) {
  extra = "expand_owner_alias = yes\n";
  write_aliases("list: alice\nowner-list: carol@elsewhere.example\n");
  auto o = run(message("list@example.test"));
  ASSERT_EQ(o.queued.size(), 1u);
  EXPECT_EQ(queued(o.queued[0]).env.sender, "carol@elsewhere.example");
}

TEST_F(DelivererTest, SelfReferenceDeliversToTheUser) {
  write_aliases("alice: alice, bob\n");
  auto o = run(message("alice@example.test"));
  EXPECT_EQ(o.result.reason, "delivered to mailbox");
  EXPECT_EQ(count_messages(mailbox("alice")), 1);
  EXPECT_EQ(count_messages(mailbox("bob")), 1);
}

TEST_F(DelivererTest, DeliveredToLoopBounces) {
  auto o = run(message("alice@example.test", "Delivered-To: ALICE@example.test\nSubject: x\n\nbody\n"));
  EXPECT_EQ(o.result.dsn, "5.4.6");
  EXPECT_EQ(o.result.reason, "mail forwarding loop for alice@example.test");
  EXPECT_FALSE(util::exists(mailbox("alice")));
  // A Delivered-To: in the body is not a loop.
  o = run(message("alice@example.test", "Subject: x\n\nDelivered-To: alice@example.test\n"));
  EXPECT_EQ(o.result.reason, "delivered to mailbox");
}

TEST_F(DelivererTest, MutualAliasesStopAtTheNestingLimit) {
  write_aliases("a: b\nb: a\n");
  auto o = run(message("a@example.test"));
  EXPECT_EQ(o.result.dsn, "5.4.6");
  EXPECT_EQ(o.result.reason.find("loop") != std::string::npos ||
                o.result.reason.find("nesting limit") != std::string::npos,
            true)
      << o.result.reason;
}

TEST_F(DelivererTest, DuplicatesAreSuppressedWithinOneRecipient) {
  write_aliases("team: alice, alice, sub, Alice@Example.Test\nsub: alice, bob\n");
  auto o = run(message("team@example.test"));
  EXPECT_EQ(o.result.reason, "delivered to mailbox");
  EXPECT_EQ(count_messages(mailbox("alice")), 1);
  EXPECT_EQ(count_messages(mailbox("bob")), 1);
  // ...but two queue recipients are two deliveries, as in Postfix.
  auto m = message("alice@example.test");
  core::Recipient r;
  r.address = "team@example.test";
  m.env.rcpts.push_back(r);
  run(m, 0);
  run(m, 1);
  EXPECT_EQ(count_messages(mailbox("alice")), 3);
}

TEST_F(DelivererTest, DuplicateFilterLimit) {
  extra = "duplicate_filter_limit = 1\n";
  write_aliases("team: alice, alice, alice\n");
  run(message("team@example.test"));
  // The filter is full after its first entry (the recipient itself): every
  // later duplicate gets through.
  EXPECT_EQ(count_messages(mailbox("alice")), 3);
}

TEST_F(DelivererTest, CommandDeliveryEnvironmentAndInput) {
  std::string out = out_dir + "/cmd.out";
  std::string script = t / "dump.sh";
  ASSERT_FALSE(util::write_file_atomic(script, "#!/bin/sh\n{ env | sort; echo ---; cat; } > " + out + "\n", 0755));
  write_aliases("cmd: \"|" + script + "\"\n");
  auto m = message("cmd@example.test");
  m.env.client_addr = "192.0.2.7";
  auto o = run(m);
  EXPECT_EQ(o.result.reason, "delivered to command: " + script) << o.result.reason;
  std::string got = slurp(out);
  for (const char* e : {"RECIPIENT=cmd@example.test\n", "LOCAL=cmd\n", "USER=cmd\n", "LOGNAME=cmd\n",
                        "SENDER=x@example.net\n", "DOMAIN=example.test\n", "ORIGINAL_RECIPIENT=cmd@example.test\n",
                        "CLIENT_ADDRESS=192.0.2.7\n", "PATH=/usr/bin:/bin\n"})
    EXPECT_NE(got.find(e), std::string::npos) << e << " in " << got;
  if (local::testing::is_root()) {
    // Root owns the alias database: no HOME (default_privs' context is empty).
    EXPECT_EQ(got.find("\nHOME="), std::string::npos);
  } else {
    // The database owner's rights and home (the first fake user with our uid).
    EXPECT_NE(got.find("\nHOME=" + t / "admin" + "\n"), std::string::npos) << got;
  }
  auto body = got.substr(got.find("---\n") + 4);
  EXPECT_EQ(body.rfind("From x@example.net  ", 0), 0u) << body;
  EXPECT_NE(body.find("\nReturn-Path: <x@example.net>\nX-Original-To: cmd@example.test\nDelivered-To: "
                      "cmd@example.test\nSubject: test\n\nFrom the start\nbody\n"),
            std::string::npos)
      << body;
  if (local::testing::is_root()) {
    struct stat st;
    ASSERT_EQ(::stat(out.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, local::testing::nobody_uid());  // default_privs
  }
}

TEST_F(DelivererTest, CommandExitStatuses) {
  write_aliases("later: \"|exit 75\"\ngone: \"|exit 67\"\nbroken: |false\n");
  auto o = run(message("later@example.test"));
  EXPECT_EQ(o.result.kind(), '4');
  EXPECT_EQ(o.result.dsn, "4.3.0");
  EXPECT_EQ(o.result.reason, "temporary failure");
  o = run(message("gone@example.test"));
  EXPECT_EQ(o.result.dsn, "5.1.1");
  EXPECT_EQ(o.result.reason, "user unknown");
  o = run(message("broken@example.test"));
  EXPECT_EQ(o.result.dsn, "5.3.0");
  EXPECT_EQ(o.result.reason, "Command died with status 1: \"false\"");
}

TEST_F(DelivererTest, CommandTimeLimit) {
  extra = "command_time_limit = 1s\n";
  write_aliases("slow: \"|sleep 30\"\n");
  auto o = run(message("slow@example.test"));
  EXPECT_EQ(o.result.dsn, "5.3.0");
  EXPECT_EQ(o.result.reason, "Command time limit exceeded: \"sleep 30\"");
}

TEST_F(DelivererTest, CommandsAndFilesAreRestricted) {
  extra = "allow_mail_to_commands =\nallow_mail_to_files = forward\n";
  write_aliases("cmd: |/bin/true\nfile: " + out_dir + "/f\n");
  auto o = run(message("cmd@example.test"));
  EXPECT_EQ(o.result.dsn, "5.7.1");
  EXPECT_EQ(o.result.reason, "mail to command is restricted");
  o = run(message("file@example.test"));
  EXPECT_EQ(o.result.dsn, "5.7.1");
  EXPECT_EQ(o.result.reason, "mail to file is restricted");
  EXPECT_FALSE(util::exists(out_dir + "/f"));
}

TEST_F(DelivererTest, IncludedCommandsAreRestrictedByDefault) {
  std::string inc = t / "list.inc";
  ASSERT_FALSE(util::write_file_atomic(inc, "# members\n|/bin/true\n", 0644));
  write_aliases("list: :include:" + inc + "\n");
  auto o = run(message("list@example.test"));
  EXPECT_EQ(o.result.reason, "mail to command is restricted");
}

TEST_F(DelivererTest, IncludedAddressesAreForwarded) {
  std::string inc = t / "list.inc";
  ASSERT_FALSE(util::write_file_atomic(inc, "# members\nalice\nbob@remote.example, carol\n", 0644));
  write_aliases("list: :include:" + inc + "\n");
  auto o = run(message("list@example.test"));
  ASSERT_EQ(o.queued.size(), 1u) << o.result.reason;
  EXPECT_EQ(o.result.reason, "forwarded as " + o.queued[0]);
  core::Message q = queued(o.queued[0]);
  EXPECT_EQ(q.env.sender, "x@example.net");
  ASSERT_EQ(q.env.rcpts.size(), 3u);
  EXPECT_EQ(q.env.rcpts[0].address, "alice@example.test");
  EXPECT_EQ(q.env.rcpts[1].address, "bob@remote.example");
  EXPECT_EQ(q.env.rcpts[2].address, "carol@example.test");
  // A world-writable include file is refused.
  ::chmod(inc.c_str(), 0666);
  o = run(message("list@example.test"));
  EXPECT_EQ(o.result.dsn, "5.3.5");
  EXPECT_EQ(o.result.reason, "mail system configuration error");
}

TEST_F(DelivererTest, FileAndMaildirDestinations) {
  std::string f = out_dir + "/archive";
  std::string md = out_dir + "/md/";
  write_aliases("arch: " + f + ", " + md + "\n");
  auto o = run(message("arch@example.test"));
  ASSERT_EQ(o.leaves.size(), 2u);
  EXPECT_EQ(o.leaves[0].status.text, "delivered to file: " + f);
  EXPECT_EQ(o.leaves[1].status.text, "delivered to maildir");
  EXPECT_EQ(o.result.reason, "delivered to file: " + f + "; delivered to maildir");
  std::string box = slurp(f);
  EXPECT_EQ(box.rfind("From x@example.net  ", 0), 0u);
  EXPECT_NE(box.find("\nDelivered-To: arch@example.test\nSubject: test\n\n>From the start\nbody\n\n"),
            std::string::npos)
      << box;
  EXPECT_EQ(list_dir(md + "new").size(), 1u);
  if (local::testing::is_root()) {
    struct stat st;
    ASSERT_EQ(::stat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, local::testing::nobody_uid());
  }
}

TEST_F(DelivererTest, DotForward) {
  std::string fw = t / "alice/.forward";
  ASSERT_FALSE(util::write_file_atomic(fw, "# mine\ndave@remote.example, \\alice\n", 0644));
  auto o = run(message("alice@example.test"));
  ASSERT_EQ(o.queued.size(), 1u) << o.result.reason;
  // The forwarded copy is reported after the in-process deliveries, as
  // Postfix's forward_finish() logs it at the end of the recipient.
  EXPECT_EQ(o.result.reason, "delivered to mailbox; forwarded as " + o.queued[0]);
  EXPECT_EQ(count_messages(mailbox("alice")), 1);
  EXPECT_EQ(queued(o.queued[0]).env.rcpts[0].address, "dave@remote.example");
}

TEST_F(DelivererTest, DotForwardToSelfAndAnotherLocalUser) {
  ASSERT_FALSE(util::write_file_atomic(t / "alice/.forward", "alice\nbob\n", 0644));
  auto o = run(message("alice@example.test"));
  // alice keeps a copy; bob's goes out as a new message (Postfix resubmits
  // mail that a .forward sends to another local user).
  EXPECT_EQ(count_messages(mailbox("alice")), 1);
  EXPECT_FALSE(util::exists(mailbox("bob")));
  ASSERT_EQ(o.queued.size(), 1u);
  EXPECT_EQ(queued(o.queued[0]).env.rcpts[0].address, "bob@example.test");
}

TEST_F(DelivererTest, UnsafeDotForwardIsIgnored) {
  std::string fw = t / "alice/.forward";
  ASSERT_FALSE(util::write_file_atomic(fw, "dave@remote.example\n", 0666));
  auto o = run(message("alice@example.test"));
  EXPECT_EQ(o.result.reason, "delivered to mailbox");
  EXPECT_TRUE(o.queued.empty());
}

TEST_F(DelivererTest, ForwardPathWithExtension) {
  extra = "recipient_delimiter = +\n";
  ASSERT_FALSE(util::write_file_atomic(t / "alice/.forward+lists", "bob\n", 0644));
  ASSERT_FALSE(util::write_file_atomic(t / "alice/.forward", "\\alice\n", 0644));
  auto o = run(message("alice+lists@example.test"));
  ASSERT_EQ(o.queued.size(), 1u) << o.result.reason;
  o = run(message("alice@example.test"));
  EXPECT_EQ(o.result.reason, "delivered to mailbox");
}

TEST_F(DelivererTest, HomeMaildir) {
  extra = "home_mailbox = Maildir/\n";
  auto o = run(message("alice@example.test"));
  EXPECT_EQ(o.result.reason, "delivered to maildir");
  auto files = list_dir(t / "alice/Maildir/new");
  ASSERT_EQ(files.size(), 1u);
  std::string got = slurp(t / "alice/Maildir/new/" + files[0]);
  EXPECT_EQ(got,
            "Return-Path: <x@example.net>\nX-Original-To: alice@example.test\nDelivered-To: alice@example.test\n"
            "Subject: test\n\nFrom the start\nbody\n");
  if (local::testing::is_root()) {
    struct stat st;
    ASSERT_EQ(::stat((t / "alice/Maildir/new/" + files[0]).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, local::testing::user_uid());
  }
}

TEST_F(DelivererTest, HomeMailboxFile) {
  extra = "home_mailbox = Mailbox\n";
  auto o = run(message("alice@example.test"));
  EXPECT_EQ(o.result.reason, "delivered to mailbox");
  EXPECT_EQ(count_messages(t / "alice/Mailbox"), 1);
}

TEST_F(DelivererTest, SpoolMaildir) {
  extra = "mail_spool_directory = " + spool + "/\n";
  auto o = run(message("bob@example.test"));
  EXPECT_EQ(o.result.reason, "delivered to maildir");
  EXPECT_EQ(list_dir(spool + "/bob/new").size(), 1u);
}

TEST_F(DelivererTest, MailboxSizeLimit) {
  extra = "mailbox_size_limit = 400\nmessage_size_limit = 300\n";
  auto o = run(message("alice@example.test"));
  ASSERT_EQ(o.result.dsn, "2.0.0") << o.result.reason;
  o = run(message("alice@example.test"));
  o = run(message("alice@example.test"));
  EXPECT_EQ(o.result.dsn, "5.2.2");
  EXPECT_EQ(o.result.reason,
            "cannot update mailbox " + mailbox("alice") + " for user alice. error writing message: File too large");
  EXPECT_LE(slurp(mailbox("alice")).size(), 400u);
  EXPECT_THROW(Settings::from(core::Config::from_text("mailbox_size_limit = 10\nmessage_size_limit = 20\n")),
               core::ConfigError);
}

TEST_F(DelivererTest, PostmasterWithoutAliasIsDiscarded) {
  write_aliases("other: alice\n");
  auto o = run(message("postmaster@example.test"));
  EXPECT_EQ(o.result.dsn, "2.0.0");
  EXPECT_EQ(o.result.reason, "discarded");
}

TEST_F(DelivererTest, LuserRelay) {
  extra = "luser_relay = admin+$user\nrecipient_delimiter = +\n";
  auto o = run(message("nosuch@example.test"));
  EXPECT_EQ(o.result.reason, "delivered to mailbox");
  EXPECT_NE(slurp(mailbox("admin")).find("\nDelivered-To: nosuch@example.test\n"), std::string::npos);
}

TEST_F(DelivererTest, FallbackTransportTakesUnknownUsers) {
  extra = "fallback_transport = relay:[192.0.2.25]\nluser_relay = admin\n";
  auto o = run(message("nosuch@example.test"));
  ASSERT_EQ(o.passes.size(), 1u);
  EXPECT_EQ(o.passes[0], "nosuch@example.test");
  EXPECT_TRUE(o.leaves.empty());
  EXPECT_FALSE(util::exists(mailbox("admin")));  // fallback_transport overrides luser_relay
}

TEST_F(DelivererTest, AliasDatabaseIsWhatCounts) {
  write_aliases("sales: alice\n");
  // Editing the source without newaliases changes nothing...
  ASSERT_FALSE(util::write_file_atomic(aliases, "sales: bob\n", 0644));
  run(message("sales@example.test"));
  EXPECT_EQ(count_messages(mailbox("alice")), 1);
  EXPECT_FALSE(util::exists(mailbox("bob")));
  // ...and a missing database defers rather than bounce.
  ::unlink(core::hash_db_path(aliases).c_str());
  auto o = run(message("sales@example.test"));
  EXPECT_EQ(o.result.dsn, "4.3.0");
  EXPECT_EQ(o.result.reason, "alias database unavailable");
}

TEST_F(DelivererTest, InaccessibleHomeDefers) {
  users->add("ghost", t / "no-such-home");
  auto o = run(message("ghost@example.test"));
  EXPECT_EQ(o.result.dsn, "4.3.0");
  EXPECT_EQ(o.result.reason.rfind("cannot access home directory " + t / "no-such-home" + ": ", 0), 0u);
}

TEST_F(DelivererTest, DeferredRecipientForwardsNothing) {
  write_aliases("mixed: dave@remote.example, \"|exit 75\"\n");
  auto o = run(message("mixed@example.test"));
  EXPECT_EQ(o.result.kind(), '4');
  EXPECT_EQ(o.result.reason, "temporary failure");
  EXPECT_TRUE(o.queued.empty());
  EXPECT_TRUE(store->list(queue::Q::incoming).empty());
}

TEST_F(DelivererTest, BadSettingsAreConfigErrors) {
  EXPECT_THROW(Settings::from(core::Config::from_text("allow_mail_to_commands = alias, bogus\n")), core::ConfigError);
  EXPECT_THROW(Settings::from(core::Config::from_text("mailbox_delivery_lock = lockf\n")), core::ConfigError);
}
