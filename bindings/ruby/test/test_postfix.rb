# SPDX-License-Identifier: MIT
# frozen_string_literal: true

# Smtpc::SMTP through a private Postfix (tests/servers/postfix_server.py: root and Debian postfix),
# which relays to an aiosmtpd sink: the message arrives unchanged; a refused recipient is reported.
require_relative "helper"
require "socket"

class TestPostfix < Minitest::Test
  include SmtpcTest

  def setup
    skip "needs root (a private Postfix)" unless Process.uid.zero?
    skip "needs Debian postfix" unless File.executable?("/usr/sbin/postfix")
    pki = SmtpcTest.pki
    @dir = Dir.mktmpdir("smtpc-rb-postfix")
    FileUtils.mkdir_p(File.join(@dir, "spool"))
    @srv = Server.new([PYTHON, File.join(SERVERS, "postfix_server.py"), "--spool", File.join(@dir, "spool"),
                       "--tls-cert", File.join(pki, "server.pem"), "--tls-key", File.join(pki, "server.key"),
                       "--sasl", "rbuser:rbsecret"], @dir, extra_lines: 1)
    (@servers ||= []) << @srv
  end

  def test_starttls_auth_refused_recipient
    pki = SmtpcTest.pki
    msg = "Subject: via postfix\n\nhello\n"
    Smtpc::SMTP.start("127.0.0.1", @srv.port, helo: "client.test", user: "rbuser@smtpc.test", secret: "rbsecret",
                                               starttls: :always, ca_file: File.join(pki, "ca.pem")) do |smtp|
      assert smtp.tls_verified?
      r = smtp.send_message(msg, "a@example.org", "reject1@example.org", "b@example.org")
      assert_equal %i[refused delivered], r.recipients.map(&:state)
      assert_equal 550, r.refused[0].rcpt_reply.code
    end
    m = @srv.messages(1, spool: File.join(@dir, "spool")).first
    assert_equal ["b@example.org"], m["rcpt_tos"]
    assert_equal "a@example.org", m["mail_from"]
    assert_equal "Subject: via postfix\r\n\r\nhello\r\n", unhex(m["content_hex"])
  end
end
