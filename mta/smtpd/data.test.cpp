#include "smtpd/data.hpp"

#include <gtest/gtest.h>

using namespace mta::smtpd;

namespace {

// Feeds raw DATA bytes through a LineBuffer and a DataReceiver, as the
// session does. Returns how many bytes were left after the end of data
// (npos when the data never ended).
size_t run_data(std::string_view bytes, BareLf /*mode: documents the receiver's*/, DataReceiver& rx,
                size_t limit = 2048, size_t chunk = 7) {
  LineBuffer in;
  size_t fed = 0;
  Line l;
  for (;;) {
    while (in.next(limit, l))
      if (rx.feed(l)) return in.pending() + (bytes.size() - fed);
    if (fed >= bytes.size()) return std::string::npos;
    size_t n = std::min(chunk, bytes.size() - fed);
    in.append(bytes.substr(fed, n));
    fed += n;
  }
}

}  // namespace

TEST(DataTest, LineBufferEndings) {
  LineBuffer in;
  in.append("a\r\nb\nc\r\r\n\r\nxyz");
  Line l;
  ASSERT_TRUE(in.next(100, l));
  EXPECT_EQ(l.text, "a");
  EXPECT_EQ(l.eol, Eol::crlf);
  ASSERT_TRUE(in.next(100, l));
  EXPECT_EQ(l.text, "b");
  EXPECT_EQ(l.eol, Eol::bare_lf);
  ASSERT_TRUE(in.next(100, l));
  EXPECT_EQ(l.text, "c");  // trailing CRs go, as in Postfix's smtp_get()
  EXPECT_EQ(l.eol, Eol::crlf);
  ASSERT_TRUE(in.next(100, l));
  EXPECT_EQ(l.text, "");
  EXPECT_FALSE(in.next(100, l));  // "xyz" has no end yet
  EXPECT_EQ(in.pending(), 3u);
  EXPECT_EQ(in.peek(2), "xy");
}

TEST(DataTest, LongLinesComeInPieces) {
  LineBuffer in;
  in.append(std::string(25, 'x') + "\r\n");
  Line l;
  ASSERT_TRUE(in.next(10, l));
  EXPECT_EQ(l.text, std::string(10, 'x'));
  EXPECT_EQ(l.eol, Eol::none);
  ASSERT_TRUE(in.next(10, l));
  EXPECT_EQ(l.eol, Eol::none);
  ASSERT_TRUE(in.next(10, l));
  EXPECT_EQ(l.text, "xxxxx");
  EXPECT_EQ(l.eol, Eol::crlf);
  EXPECT_EQ(in.pending(), 0u);
}

TEST(DataTest, PieceNeverSplitsCrlf) {
  // The limit counts the terminator, as Postfix's bounded read does.
  LineBuffer in;
  in.append("123456789\r\n");
  Line l;
  ASSERT_TRUE(in.next(11, l));
  EXPECT_EQ(l.text, "123456789");
  EXPECT_EQ(l.eol, Eol::crlf);
  in.append("123456789\r\n");
  ASSERT_TRUE(in.next(10, l));
  EXPECT_EQ(l.text, "123456789");  // the CR stays with its LF
  EXPECT_EQ(l.eol, Eol::none);
  ASSERT_TRUE(in.next(10, l));
  EXPECT_EQ(l.text, "");
  EXPECT_EQ(l.eol, Eol::crlf);
  EXPECT_FALSE(l.stray_cr);
  in.append(".\r\r\n");
  ASSERT_TRUE(in.next(10, l));
  EXPECT_EQ(l.text, ".");
  EXPECT_TRUE(l.stray_cr);
}

TEST(DataTest, SkipLine) {
  LineBuffer in;
  in.append("garbage without end");
  EXPECT_FALSE(in.skip_line());
  EXPECT_EQ(in.pending(), 0u);
  in.append("more\r\nNOOP\r\n");
  EXPECT_TRUE(in.skip_line());
  Line l;
  ASSERT_TRUE(in.next(100, l));
  EXPECT_EQ(l.text, "NOOP");
}

TEST(DataTest, ParseBareLfValues) {
  EXPECT_EQ(parse_bare_lf("no"), BareLf::no);
  EXPECT_EQ(parse_bare_lf("Normalize"), BareLf::normalize);
  EXPECT_EQ(parse_bare_lf("yes"), BareLf::normalize);
  EXPECT_EQ(parse_bare_lf("reject"), BareLf::reject);
  EXPECT_FALSE(parse_bare_lf("maybe"));
}

TEST(DataTest, DotStuffingAndEnd) {
  DataReceiver rx(BareLf::normalize, 0);
  size_t left = run_data("Subject: x\r\n\r\n..leading dot\r\n.\r\n.\r\nNEXT\r\n", BareLf::normalize, rx);
  ASSERT_NE(left, std::string::npos);
  EXPECT_EQ(rx.content(), "Subject: x\n\n.leading dot\n");
  EXPECT_EQ(left, std::string(".\r\nNEXT\r\n").size());
}

TEST(DataTest, EmptyMessage) {
  DataReceiver rx(BareLf::normalize, 0);
  EXPECT_EQ(run_data(".\r\n", BareLf::normalize, rx), 0u);
  EXPECT_EQ(rx.content(), "");
}

TEST(DataTest, MailboxLineAndLeadingWhitespace) {
  DataReceiver rx(BareLf::normalize, 0);
  run_data("From someone Sat Nov 28\r\n>From x\r\nSubject: s\r\n\r\nb\r\n.\r\n", BareLf::normalize, rx);
  EXPECT_EQ(rx.content(), "X-Mailbox-Line: From someone Sat Nov 28\nX-Mailbox-Line: >From x\nSubject: s\n\nb\n");
  DataReceiver ws(BareLf::normalize, 0);
  run_data(" indented\r\n.\r\n", BareLf::normalize, ws);
  EXPECT_EQ(ws.content(), "\n indented\n");
}

TEST(DataTest, SizeLimitCountsLinesPlusCrlf) {
  // Postfix: each line costs its length + 2; "abc" + "de" = 5 + 4 = 9.
  DataReceiver ok(BareLf::normalize, 9);
  run_data("abc\r\nde\r\n.\r\n", BareLf::normalize, ok);
  EXPECT_FALSE(ok.too_big());
  EXPECT_EQ(ok.size(), 9);
  DataReceiver big(BareLf::normalize, 8);
  size_t left = run_data("abc\r\nde\r\nmore\r\n.\r\nQUIT\r\n", BareLf::normalize, big);
  EXPECT_TRUE(big.too_big());
  EXPECT_EQ(left, 6u);  // the end of data is still found
  EXPECT_EQ(big.content(), "");
}

TEST(DataTest, LongLineIsReassembled) {
  DataReceiver rx(BareLf::normalize, 0);
  std::string longline(5000, 'y');
  run_data("." + longline + "\r\n.\r\n", BareLf::normalize, rx, 2048, 1000);
  EXPECT_EQ(rx.content(), longline + "\n");
}

TEST(DataTest, DotAfterLongLinePieceIsData) {
  // A piece boundary right before a '.' must not look like a new line.
  DataReceiver rx(BareLf::normalize, 0);
  std::string first(10, 'z');
  size_t left = run_data(first + ".\r\n.\r\n", BareLf::normalize, rx, 10, 100);
  EXPECT_EQ(left, 0u);
  EXPECT_EQ(rx.content(), first + ".\n");
}

struct LineSmuggleCase {
  const char* name;
  const char* eod;  // the bogus end-of-data sequence put after "text"
};

class DataSmuggleTest : public ::testing::TestWithParam<LineSmuggleCase> {};

// Under normalize (and reject) a non-standard end of data never ends the
// message: what follows stays message content until the real CRLF.CRLF.
TEST_P(DataSmuggleTest, NormalizeKeepsSmuggledCommandsAsContent) {
  const auto& c = GetParam();
  std::string smuggled = "MAIL FROM:<evil@x.test>\r\nRCPT TO:<v@y.test>\r\nDATA\r\nevil\r\n";
  std::string bytes = std::string("Subject: t\r\n\r\ntext") + c.eod + smuggled + "\r\n.\r\nQUIT\r\n";
  for (BareLf mode : {BareLf::normalize, BareLf::reject}) {
    DataReceiver rx(mode, 0);
    size_t left = run_data(bytes, mode, rx);
    ASSERT_NE(left, std::string::npos) << c.name;
    EXPECT_EQ(left, 6u) << c.name << ": the message ended early";
    EXPECT_NE(rx.content().find("MAIL FROM:<evil@x.test>"), std::string::npos) << c.name;
    EXPECT_NE(rx.content().find("evil"), std::string::npos) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, DataSmuggleTest,
                         ::testing::Values(LineSmuggleCase{"LfDotLf", "\n.\n"}, LineSmuggleCase{"CrDotCr", "\r.\r"},
                                           LineSmuggleCase{"CrlfDotLf", "\r\n.\n"}, LineSmuggleCase{"LfDotCrlf", "\n.\r\n"},
                                           LineSmuggleCase{"CrDotCrlf", "\r.\r\n"}, LineSmuggleCase{"CrlfDotCr", "\r\n.\r"},
                                           LineSmuggleCase{"CrCrlfDotCrlf", "\r\r\n.\n"}, LineSmuggleCase{"LfDotLfCr", "\n.\n\r"},
                                           LineSmuggleCase{"CrlfDotSpaceCrlf", "\r\n. \r\n"},
                                           LineSmuggleCase{"CrlfDotCrCrlf", "\r\n.\r\r\n"}),
                         [](const auto& tpi) { return std::string(tpi.param.name); });

TEST(DataTest, NulNextToDotIsContent) {
  for (std::string eod : {std::string("\r\n\0.\r\n", 6), std::string("\r\n.\0\r\n", 6)}) {
    DataReceiver rx(BareLf::normalize, 0);
    std::string bytes = "a" + eod + "MAIL FROM:<x@y>\r\n.\r\n";
    EXPECT_EQ(run_data(bytes, BareLf::normalize, rx), 0u);
    EXPECT_NE(rx.content().find("MAIL FROM:<x@y>"), std::string::npos);
    EXPECT_NE(rx.content().find('\0'), std::string::npos);
  }
}

TEST(DataTest, NoModeEndsAtBareLfDot) {
  DataReceiver rx(BareLf::no, 0);
  size_t left = run_data("text\n.\nMAIL FROM:<a@b>\r\n", BareLf::no, rx);
  EXPECT_EQ(left, std::string("MAIL FROM:<a@b>\r\n").size());
  EXPECT_EQ(rx.content(), "text\n");
  EXPECT_FALSE(rx.bare_lf());
}

TEST(DataTest, RejectModeFlagsBareLf) {
  DataReceiver rx(BareLf::reject, 0);
  EXPECT_EQ(run_data("a\nb\r\n.\r\n", BareLf::reject, rx), 0u);
  EXPECT_TRUE(rx.bare_lf());
  DataReceiver clean(BareLf::reject, 0);
  run_data("a\r\nb\r\n.\r\n", BareLf::reject, clean);
  EXPECT_FALSE(clean.bare_lf());
  DataReceiver norm(BareLf::normalize, 0);
  run_data("a\nb\r\n.\r\n", BareLf::normalize, norm);
  EXPECT_FALSE(norm.bare_lf());
  EXPECT_EQ(norm.content(), "a\nb\n");
}

TEST(DataTest, ReceivedHeader) {
  setenv("TZ", "UTC", 1);
  std::string rcpt = "bob@example.test";
  EXPECT_EQ(received_header("c.example.net", "localhost", "127.0.0.1", "mx.example.test", "Postfix", "ESMTP",
                            "AD2E410401C", &rcpt, 1795848706),
            "Received: from c.example.net (localhost [127.0.0.1])\n"
            "\tby mx.example.test (Postfix) with ESMTP id AD2E410401C\n"
            "\tfor <bob@example.test>; Sat, 28 Nov 2026 06:51:46 +0000 (UTC)\n");
  EXPECT_EQ(received_header("", "unknown", "IPv6:::1", "mx", "mxmta", "SMTP", "ID1", nullptr, 1795848706),
            "Received: from unknown (unknown [IPv6:::1])\n"
            "\tby mx (mxmta) with SMTP id ID1;\n"
            "\tSat, 28 Nov 2026 06:51:46 +0000 (UTC)\n");
}
