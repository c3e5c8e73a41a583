#include "smtp/settings.hpp"

#include "core/params.hpp"

#include <gtest/gtest.h>

using namespace mta;
using namespace mta::smtp;

namespace {
Settings load(const std::string& text) {
  auto c = core::Config::from_text("myhostname = mx.example.com\ninet_interfaces = 127.0.0.1\n" + text);
  return load_settings(c);
}
std::string error_of(const std::string& text) {
  try {
    load(text);
  } catch (const core::ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(SettingsTest, PostfixDefaults) {
  auto s = load("");
  EXPECT_EQ(s.myhostname, "mx.example.com");
  EXPECT_EQ(s.helo_name, "mx.example.com");
  EXPECT_EQ(s.default_port, 25);
  EXPECT_EQ(s.connect_timeout.count(), 30);
  EXPECT_EQ(s.helo_timeout.count(), 300);
  EXPECT_EQ(s.data_init_timeout.count(), 120);
  EXPECT_EQ(s.data_xfer_timeout.count(), 180);
  EXPECT_EQ(s.data_done_timeout.count(), 600);
  EXPECT_EQ(s.rset_timeout.count(), 20);
  EXPECT_EQ(s.mx_address_limit, 5);
  EXPECT_EQ(s.mx_session_limit, 2);
  EXPECT_TRUE(s.skip_5xx_greeting);
  EXPECT_TRUE(s.skip_quit_response);
  EXPECT_TRUE(s.always_send_ehlo);
  EXPECT_FALSE(s.never_send_ehlo);
  EXPECT_EQ(s.line_length_limit, 998u);
  EXPECT_TRUE(s.select.randomize);
  EXPECT_EQ(s.select.preference, AddressPreference::any);
  EXPECT_TRUE(s.select.ipv4);
  EXPECT_TRUE(s.fallback_relay.empty());
  EXPECT_FALSE(s.bind_address.has_value());
  ASSERT_EQ(s.select.own.size(), 1u);
  EXPECT_EQ(s.select.own[0].str(), "127.0.0.1");
  // Every parameter read here is declared in the registry.
  for (const char* p : {"smtp_tcp_port", "smtp_rset_timeout", "smtp_skip_quit_response", "smtp_always_send_ehlo",
                        "smtp_bind_address_enforce", "smtp_balance_inet_protocols", "smtp_fallback_relay",
                        "smtp_host_lookup", "line_length_limit", "inet_protocols"})
    EXPECT_NE(core::find_param(p), nullptr) << p;
}

TEST(SettingsTest, ValuesFromMainCf) {
  auto s = load(
      "smtp_helo_name = client.example\nsmtp_tcp_port = 2525\nsmtp_connect_timeout = 2s\n"
      "smtp_data_done_timeout = 1m\nsmtp_fallback_relay = [fb1.example], fb2.example:26\n"
      "smtp_bind_address = 192.0.2.7\nsmtp_bind_address6 = [2001:db8::7]\nsmtp_address_preference = ipv6\n"
      "inet_protocols = ipv4\nsmtp_randomize_addresses = no\nsmtp_mx_session_limit = 0\n");
  EXPECT_EQ(s.helo_name, "client.example");
  EXPECT_EQ(s.default_port, 2525);
  EXPECT_EQ(s.connect_timeout.count(), 2);
  EXPECT_EQ(s.data_done_timeout.count(), 60);
  EXPECT_EQ(s.fallback_relay, (std::vector<std::string>{"[fb1.example]", "fb2.example:26"}));
  ASSERT_TRUE(s.bind_address.has_value());
  EXPECT_EQ(s.bind_address->str(), "192.0.2.7");
  ASSERT_TRUE(s.bind_address6.has_value());
  EXPECT_EQ(s.bind_address6->str(), "2001:db8::7");
  EXPECT_EQ(s.select.preference, AddressPreference::ipv6);
  EXPECT_TRUE(s.select.ipv4);
  EXPECT_FALSE(s.select.ipv6);
  EXPECT_FALSE(s.select.randomize);
  EXPECT_EQ(s.mx_session_limit, 0);
}

TEST(SettingsTest, BadValuesNameTheFileAndLine) {
  EXPECT_EQ(error_of("smtp_address_preference = ipv5\n"), "main.cf, line 3: bad smtp_address_preference value: ipv5");
  EXPECT_EQ(error_of("\nsmtp_bind_address = 10.0.0.300\n"),
            "main.cf, line 4: bad smtp_bind_address parameter: 10.0.0.300");
  EXPECT_EQ(error_of("smtp_bind_address = 2001:db8::1\n"),
            "main.cf, line 3: bad smtp_bind_address parameter: 2001:db8::1");
  EXPECT_EQ(error_of("smtp_tcp_port = nosuch\n"),
            "main.cf, line 3: bad smtp_tcp_port value: nosuch: unknown service: nosuch/tcp");
  EXPECT_EQ(error_of("inet_protocols = ipx\n"), "main.cf, line 3: bad inet_protocols value: ipx");
  EXPECT_NE(error_of("smtp_mx_address_limit = many\n").find("main.cf, line 3: "), std::string::npos);
  EXPECT_NE(error_of("smtp_helo_timeout = 5y\n").find("main.cf, line 3: "), std::string::npos);
}

TEST(SettingsTest, ConnectionCacheParameters) {
  auto d = load("");
  EXPECT_TRUE(d.cache_on_demand);
  EXPECT_EQ(d.cache_time_limit.count(), 2);
  EXPECT_EQ(d.reuse_time_limit.count(), 300);
  EXPECT_EQ(d.reuse_count_limit, 0);
  EXPECT_TRUE(d.cache_destinations.empty());
  for (const char* p :
       {"smtp_connection_cache_on_demand", "smtp_connection_cache_destinations", "smtp_connection_cache_time_limit",
        "smtp_connection_reuse_time_limit", "smtp_connection_reuse_count_limit"})
    EXPECT_NE(core::find_param(p), nullptr) << p;

  auto s = load(
      "smtp_connection_cache_on_demand = no\nsmtp_connection_cache_time_limit = 1m\n"
      "smtp_connection_reuse_time_limit = 10\nsmtp_connection_reuse_count_limit = 7\n"
      "smtp_connection_cache_destinations = Relay.Example, !skip.example, inline:{other.example=x}, skip.example\n");
  EXPECT_FALSE(s.cache_on_demand);
  EXPECT_EQ(s.cache_time_limit.count(), 60);
  EXPECT_EQ(s.reuse_time_limit.count(), 10);
  EXPECT_EQ(s.reuse_count_limit, 7);
  EXPECT_TRUE(s.cache_destinations.match("relay.example"));
  EXPECT_TRUE(s.cache_destinations.match("OTHER.example")) << "inline: table";
  EXPECT_FALSE(s.cache_destinations.match("skip.example")) << "the first match, a negated one, decides";
  EXPECT_FALSE(s.cache_destinations.match("example"));

  EXPECT_EQ(error_of("smtp_connection_cache_time_limit = 0\n"),
            "main.cf, line 3: invalid smtp_connection_cache_time_limit parameter value 0 < 1");
  EXPECT_EQ(error_of("smtp_connection_reuse_count_limit = -1\n"),
            "main.cf, line 3: bad numerical configuration: smtp_connection_reuse_count_limit = -1");
}
