#include "smtpd/check.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace mta;
using namespace mta::smtpd;

namespace {

// The named seam: local users without touching /etc/passwd.
class FakeUsers : public RecipientTable {
 public:
  explicit FakeUsers(std::set<std::string> u) : users_(std::move(u)) {}
  bool known(const std::string& key) override {
    lookups.push_back(key);
    return users_.count(key) > 0;
  }
  std::vector<std::string> lookups;

 private:
  std::set<std::string> users_;
};

const char* kBase =
    "myhostname = mx.example.test\n"
    "mydomain = example.test\n"
    "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain\n"
    "inet_interfaces = loopback-only\n"
    "mynetworks = 127.0.0.0/8 [::1]/128\n"
    "local_recipient_maps =\n";

Policy policy(const std::string& extra = "", std::set<std::string> users = {"alice", "bob"}) {
  auto c = core::Config::from_text(std::string(kBase) + extra);
  Policy p = Policy::from(c);
  p.local_recipients = std::make_shared<FakeUsers>(std::move(users));
  return p;
}

CheckState outsider() {
  CheckState s;
  s.client_name = "unknown";
  s.client_addr = "192.0.2.7";
  s.client_ip = core::IpAddr::parse("192.0.2.7");
  s.namaddr = "unknown[192.0.2.7]";
  s.helo = "client.example.net";
  s.sender = "x@example.net";
  s.protocol = "ESMTP";
  return s;
}

CheckState insider() {
  CheckState s = outsider();
  s.client_name = "localhost";
  s.client_addr = "127.0.0.1";
  s.client_ip = core::IpAddr::parse("127.0.0.1");
  s.namaddr = "localhost[127.0.0.1]";
  return s;
}

}  // namespace

struct RcptCase {
  const char* name;
  const char* config;
  bool inside;
  const char* rcpt;
  const char* reply;  // "" = accepted
};

class CheckRecipientTest : public ::testing::TestWithParam<RcptCase> {};

TEST_P(CheckRecipientTest, RepliesAsPostfix) {
  const auto& c = GetParam();
  Policy p = policy(c.config);
  Verdict v = check_recipient(p, c.inside ? insider() : outsider(), c.rcpt);
  EXPECT_EQ(v.reply, c.reply) << c.name;
  EXPECT_EQ(v.rejected(), *c.reply != 0) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CheckRecipientTest,
    ::testing::Values(
        RcptCase{"StockRelayDenialIsDeferred", "", false, "victim@elsewhere.example",
                 "454 4.7.1 <victim@elsewhere.example>: Relay access denied"},
        RcptCase{"RejectUnauthDestination", "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n",
                 false, "victim@elsewhere.example", "554 5.7.1 <victim@elsewhere.example>: Relay access denied"},
        RcptCase{"RelayCodeFollowsParameter",
                 "smtpd_relay_restrictions = reject_unauth_destination\nrelay_domains_reject_code = 550\n", false,
                 "v@elsewhere.example", "550 5.7.1 <v@elsewhere.example>: Relay access denied"},
        RcptCase{"MynetworksMayRelay", "", true, "victim@elsewhere.example", ""},
        RcptCase{"LocalUserAccepted", "", false, "alice@example.test", ""},
        RcptCase{"LocalUserCaseFolded", "", false, "ALICE@Example.TEST", ""},
        RcptCase{"UnknownLocalUser", "", false, "nosuch@example.test",
                 "550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown in local recipient table"},
        RcptCase{"UnknownLocalUserFromInsideToo", "", true, "nosuch@localhost",
                 "550 5.1.1 <nosuch@localhost>: Recipient address rejected: User unknown in local recipient table"},
        RcptCase{"TableNameHidden", "show_user_unknown_table_name = no\n", false, "nosuch@example.test",
                 "550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown"},
        RcptCase{"LocalRejectCode", "unknown_local_recipient_reject_code = 450\n", false, "nosuch@example.test",
                 "450 4.1.1 <nosuch@example.test>: Recipient address rejected: User unknown in local recipient table"},
        RcptCase{"UnlistedCheckOff", "smtpd_reject_unlisted_recipient = no\n", false, "nosuch@example.test", ""},
        RcptCase{"PostmasterNeverUnknown", "", false, "Postmaster@example.test", ""},
        RcptCase{"MailerDaemonNeverUnknown", "", false, "MAILER-DAEMON@example.test", ""},
        RcptCase{"DoubleBounceNeverUnknown", "", false, "double-bounce@example.test", ""},
        RcptCase{"BarePostmasterAlwaysAccepted", "smtpd_client_restrictions = reject\n", false, "postmaster", ""},
        RcptCase{"AddressLiteralIsLocal", "", false, "alice@[127.0.0.1]", ""},
        RcptCase{"ErrorTransport", "local_transport = error:local delivery is disabled\n", true, "u@[127.0.0.1]",
                 "550 5.1.1 <u@[127.0.0.1]>: Recipient address rejected: local delivery is disabled"},
        RcptCase{"ErrorTransportWithDsn", "transport_maps = inline:{ { gone.example = error:5.1.2 no such domain } }\n",
                 true, "a@gone.example", "550 5.1.2 <a@gone.example>: Recipient address rejected: no such domain"},
        RcptCase{"RelayDomainFromOutside", "relay_domains = partner.example\n", false, "x@sub.partner.example", ""},
        RcptCase{"RoutedAddressRefused",
                 "relay_domains = partner.example\nsmtpd_relay_restrictions = reject_unauth_destination\n", false,
                 "victim%outside.test@partner.example",
                 "554 5.7.1 <victim%outside.test@partner.example>: Relay access denied"},
        RcptCase{"RoutedAddressAllowedWhenTrusted",
                 "relay_domains = partner.example\nallow_untrusted_routing = yes\n"
                 "smtpd_relay_restrictions = reject_unauth_destination\n",
                 false, "victim%outside.test@partner.example", ""},
        // Found by suites/relay/0004-quoted-at.xml and roles.inbound-refuses-relay-and-unknown:
        // Postfix's reply names the address unquoted (its internal form).
        RcptCase{"QuotedAtRelayNamedUnquoted", "", false, "\"victim@outside.test\"@elsewhere.example",
                 "454 4.7.1 <victim@outside.test@elsewhere.example>: Relay access denied"},
        RcptCase{"QuotedUnknownUserNamedUnquoted", "", false, "\"no body\"@example.test",
                 "550 5.1.1 <no body@example.test>: Recipient address rejected: User unknown in local recipient table"},
        RcptCase{"QuotedKnownUserAccepted", "", false, "\"alice\"@example.test", ""},
        RcptCase{"NonFqdnRecipient", "smtpd_recipient_restrictions = reject_non_fqdn_recipient\n", true,
                 "bob@localhost", "504 5.5.2 <bob@localhost>: Recipient address rejected: need fully-qualified address"},
        RcptCase{"FqdnSenderPasses", "smtpd_sender_restrictions = reject_non_fqdn_sender\n", true,
                 "alice@example.test", ""},
        RcptCase{"ClientRejectAtRcptTime", "smtpd_client_restrictions = permit_mynetworks, reject\n", false,
                 "alice@example.test", "554 5.7.1 <unknown[192.0.2.7]>: Client host rejected: Access denied"},
        RcptCase{"ClientRejectSparesMynetworks", "smtpd_client_restrictions = permit_mynetworks, reject\n", true,
                 "alice@example.test", ""},
        RcptCase{"Defer", "smtpd_recipient_restrictions = defer\n", true, "alice@example.test",
                 "450 4.3.2 <alice@example.test>: Recipient address rejected: Try again later"},
        RcptCase{"RejectCode", "smtpd_recipient_restrictions = reject\nreject_code = 550\n", true,
                 "alice@example.test", "550 5.7.1 <alice@example.test>: Recipient address rejected: Access denied"},
        RcptCase{"BadReplyCode", "smtpd_recipient_restrictions = reject\nreject_code = 250\n", true,
                 "alice@example.test", "450 4.7.1 Service unavailable"},
        RcptCase{"RelayBeforeRecipientRestrictions",
                 "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
                 "smtpd_recipient_restrictions = defer\n",
                 false, "v@elsewhere.example", "554 5.7.1 <v@elsewhere.example>: Relay access denied"},
        RcptCase{"PermitInRelayStillRunsRecipient",
                 "smtpd_relay_restrictions = permit\nsmtpd_recipient_restrictions = reject\n", false,
                 "alice@example.test", "554 5.7.1 <alice@example.test>: Recipient address rejected: Access denied"},
        RcptCase{"PermitStopsTheList", "smtpd_recipient_restrictions = permit, reject\n", false,
                 "alice@example.test", ""},
        RcptCase{"SaslNeverMatches",
                 "smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination\n", false,
                 "v@elsewhere.example", "554 5.7.1 <v@elsewhere.example>: Relay access denied"},
        RcptCase{"UnknownRestriction", "smtpd_recipient_restrictions = permit_everybody\n", true,
                 "alice@example.test", "451 4.3.5 Server configuration error"},
        RcptCase{"DnsRestrictionUnsupported", "smtpd_recipient_restrictions = reject_unknown_recipient_domain\n",
                 true, "alice@example.test", "451 4.3.5 Server configuration error"},
        RcptCase{"UnauthDestinationInClientListWithDelayReject",
                 "smtpd_client_restrictions = reject_unauth_destination\nsmtpd_relay_restrictions = permit\n", false,
                 "v@elsewhere.example", "554 5.7.1 <v@elsewhere.example>: Relay access denied"},
        RcptCase{"NoDelayRejectSkipsClientStage",
                 "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n", false, "alice@example.test", "",
        },
        RcptCase{"ExplicitRejectUnlistedRecipient",
                 "smtpd_reject_unlisted_recipient = no\nsmtpd_recipient_restrictions = reject_unlisted_recipient\n",
                 false, "nosuch@example.test",
                 "550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown in local recipient table"}),
    [](const auto& tpi) { return std::string(tpi.param.name); });

TEST(CheckTest, SenderNonFqdnUsesGivenAddress) {
  Policy p = policy("smtpd_sender_restrictions = reject_non_fqdn_sender\n");
  CheckState s = insider();
  s.sender = "bob";
  Verdict v = check_sender(p, s);
  EXPECT_EQ(v.reply, "504 5.5.2 <bob>: Sender address rejected: need fully-qualified address");
  s.sender = "";  // the null sender is never checked
  EXPECT_FALSE(check_sender(p, s).rejected());
  s.sender = "bob@[192.0.2.1]";
  EXPECT_FALSE(check_sender(p, s).rejected());
  s.sender = "bob@example.test.";
  EXPECT_FALSE(check_sender(p, s).rejected());
}

TEST(CheckTest, SenderRestrictionsRunAtRcptTime) {
  Policy p = policy("smtpd_sender_restrictions = reject_non_fqdn_sender\n");
  CheckState s = insider();
  s.sender = "bob";
  EXPECT_EQ(check_recipient(p, s, "alice@example.test").reply,
            "504 5.5.2 <bob>: Sender address rejected: need fully-qualified address");
  Policy q = policy("smtpd_sender_restrictions = reject_non_fqdn_sender\nsmtpd_delay_reject = no\n");
  EXPECT_FALSE(check_recipient(q, s, "alice@example.test").rejected());
}

TEST(CheckTest, UnknownRestrictionIsLoggedAsPostfix) {
  Policy p = policy("smtpd_recipient_restrictions = permit_everybody\n");
  Verdict v = check_recipient(p, insider(), "alice@example.test");
  ASSERT_EQ(v.warnings.size(), 1u);
  EXPECT_EQ(v.warnings[0], "unknown smtpd restriction: \"permit_everybody\"");
  Policy q = policy("smtpd_recipient_restrictions = hash:/etc/postfix/access\n");
  v = check_recipient(q, insider(), "alice@example.test");
  EXPECT_EQ(v.reply, "451 4.3.5 Server configuration error");
  ASSERT_EQ(v.warnings.size(), 1u);
  EXPECT_NE(v.warnings[0].find("before Recipient address restriction \"hash:/etc/postfix/access\""),
            std::string::npos);
}

TEST(CheckTest, BadReplyCodeWarns) {
  Policy p = policy("smtpd_recipient_restrictions = reject\nreject_code = 250\n");
  Verdict v = check_recipient(p, insider(), "alice@example.test");
  ASSERT_EQ(v.warnings.size(), 1u);
  EXPECT_EQ(v.warnings[0],
            "SMTP reply code configuration error: 250 5.7.1 <alice@example.test>: Recipient address rejected: "
            "Access denied");
}

TEST(CheckTest, WarnIfRejectOnlyWarns) {
  Policy p = policy("smtpd_recipient_restrictions = warn_if_reject reject_non_fqdn_recipient, permit\n");
  Verdict v = check_recipient(p, insider(), "bob@localhost");
  EXPECT_FALSE(v.rejected());
  ASSERT_EQ(v.reject_warnings.size(), 1u);
  EXPECT_EQ(v.reject_warnings[0],
            "504 5.5.2 <bob@localhost>: Recipient address rejected: need fully-qualified address");
}

TEST(CheckTest, RecipientDelimiterLooksUpTheBaseName) {
  auto c = core::Config::from_text(std::string(kBase) + "recipient_delimiter = +\n");
  Policy p = Policy::from(c);
  auto users = std::make_shared<FakeUsers>(std::set<std::string>{"alice"});
  p.local_recipients = users;
  EXPECT_FALSE(check_recipient(p, outsider(), "Alice+Lists@example.test").rejected());
  EXPECT_EQ(users->lookups, (std::vector<std::string>{"alice+lists", "alice"}));
}

TEST(CheckTest, EmptyLocalRecipientMapsDisablesTheCheck) {
  auto c = core::Config::from_text(kBase);
  Policy p = Policy::from(c);
  EXPECT_EQ(p.local_recipients, nullptr);
  EXPECT_FALSE(check_recipient(p, outsider(), "anyone@example.test").rejected());
}

TEST(CheckTest, HeloRestrictions) {
  Policy p = policy("smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname\n");
  CheckState s = insider();
  s.helo = "bad_host!";
  EXPECT_EQ(check_helo(p, s).reply, "501 5.5.2 <bad_host!>: Helo command rejected: Invalid name");
  s.helo = "localhost";
  EXPECT_EQ(check_helo(p, s).reply, "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname");
  s.helo = "[999.1.1.1]";
  EXPECT_EQ(check_helo(p, s).reply, "501 5.5.2 <[999.1.1.1]>: Helo command rejected: invalid ip address");
  s.helo = "[192.0.2.1]";
  EXPECT_FALSE(check_helo(p, s).rejected());
  s.helo = "client.example.net.";
  EXPECT_FALSE(check_helo(p, s).rejected());
  s.helo.reset();  // no HELO yet: nothing to check
  EXPECT_FALSE(check_helo(p, s).rejected());
}

TEST(CheckTest, DataAndEndOfDataRestrictions) {
  Policy p = policy("smtpd_data_restrictions = permit_mynetworks, reject\nsmtpd_end_of_data_restrictions = defer\n");
  EXPECT_EQ(check_data(p, outsider()).reply, "554 5.7.1 <DATA>: Data command rejected: Access denied");
  EXPECT_FALSE(check_data(p, insider()).rejected());
  EXPECT_EQ(check_eod(p, insider()).reply, "450 4.3.2 <END-OF-MESSAGE>: End-of-data rejected: Try again later");
}

TEST(CheckTest, PermitInetInterfaces) {
  Policy p = policy("smtpd_client_restrictions = permit_inet_interfaces, reject\n");
  EXPECT_FALSE(check_client(p, insider()).rejected());
  EXPECT_TRUE(check_client(p, outsider()).rejected());
}

TEST(CheckTest, RelayLimitRequirement) {
  EXPECT_TRUE(has_relay_limit(policy("")));
  EXPECT_FALSE(has_relay_limit(policy("smtpd_relay_restrictions =\n")));
  EXPECT_TRUE(
      has_relay_limit(policy("smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = reject_unauth_destination\n")));
  EXPECT_FALSE(has_relay_limit(policy("smtpd_relay_restrictions = permit, reject_unauth_destination\n")));
  EXPECT_FALSE(has_relay_limit(policy("smtpd_relay_restrictions = warn_if_reject reject_unauth_destination\n")));
  EXPECT_TRUE(has_relay_limit(policy("smtpd_relay_restrictions = permit_mynetworks defer\n")));
}

TEST(CheckTest, WhatsupLine) {
  CheckState s = insider();
  s.recipient = "victim@elsewhere.example";
  s.protocol = "SMTP";
  EXPECT_EQ(whatsup_line("", "reject", "RCPT", s, "554 5.7.1 <victim@elsewhere.example>: Relay access denied"),
            "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <victim@elsewhere.example>: Relay access "
            "denied; from=<x@example.net> to=<victim@elsewhere.example> proto=SMTP helo=<client.example.net>");
  CheckState t;
  t.namaddr = "unknown[192.0.2.1]";
  t.protocol = "ESMTP";
  t.sender = "";
  EXPECT_EQ(whatsup_line("ABC123", "reject", "END-OF-MESSAGE", t, "bare <LF> received"),
            "ABC123: reject: END-OF-MESSAGE from unknown[192.0.2.1]: bare <LF> received; from=<> proto=ESMTP");
}
