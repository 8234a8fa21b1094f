# SPDX-License-Identifier: MIT
# frozen_string_literal: true

# Smtpc::SMTP and Smtpc::LMTP against aiosmtpd and the fault server: what reached the server, byte
# for byte, and what the caller was told.
require_relative "helper"

class TestSMTP < Minitest::Test
  include SmtpcTest

  MSG = "Subject: hi\n\n.dot line\nbody\n"
  WIRE = "Subject: hi\r\n\r\n.dot line\r\nbody\r\n" # as received, after dot-unstuffing

  def test_version_and_constants
    assert_match(/\A\d+\.\d+\.\d+\z/, Smtpc::VERSION)
    assert_equal 2**64 - 1, Smtpc::Native::SMTPC_NTS
  end

  def test_plain_send_message
    srv = start_aiosmtpd
    result = nil
    Smtpc::SMTP.start("127.0.0.1", srv.port, helo: "client.test", starttls: false) do |smtp|
      assert smtp.started?
      assert smtp.esmtp?
      assert smtp.capable?("8BITMIME")
      result = smtp.send_message(MSG, "a@example.org", "b@example.org", ["c@example.org"])
    end
    assert_equal %i[delivered delivered], result.recipients.map(&:state)
    assert_equal 250, result.recipients[0].data_reply.code
    assert_equal "250", result.mail_reply.status
    m = srv.messages(1).first
    assert_equal "client.test", m["helo"]
    assert_equal "a@example.org", m["mail_from"]
    assert_equal %w[b@example.org c@example.org], m["rcpt_tos"]
    assert_equal WIRE, unhex(m["content_hex"])
    assert_equal "none", m["tls"]
  end

  def test_finish_and_started
    srv = start_aiosmtpd
    smtp = Smtpc::SMTP.new("127.0.0.1", srv.port, starttls: false)
    refute smtp.started?
    smtp.start(helo: "client.test")
    assert smtp.started?
    smtp.finish
    refute smtp.started?
    assert_raises(IOError) { smtp.finish }
    assert_raises(IOError) { smtp.send_message(MSG, "a@example.org", "b@example.org") }
  end

  def test_refused_recipients
    srv = start_aiosmtpd
    Smtpc::SMTP.start("127.0.0.1", srv.port, helo: "client.test", starttls: false) do |smtp|
      r = smtp.send_message(MSG, "a@example.org", "reject1@example.org", "ok@example.org")
      assert r.success?
      assert_equal ["reject1@example.org"], r.refused.map(&:address)
      assert_equal 550, r.refused[0].rcpt_reply.code
      assert_equal "5.1.1", r.refused[0].rcpt_reply.enhanced
      assert_equal ["ok@example.org"], r.delivered.map(&:address)

      e = assert_raises(Smtpc::SMTPFatalError) do
        smtp.send_message(MSG, "a@example.org", "reject2@example.org", "reject3@example.org")
      end
      assert_equal "SMTPC_ERECIPIENTS_REFUSED", e.status_name
      assert_equal Smtpc::Native::SMTPC_ERECIPIENTS_REFUSED, e.status
      assert_equal 550, e.code
      assert_kind_of Smtpc::SMTPError, e
      assert_equal %i[refused refused], e.result.recipients.map(&:state)

      e = assert_raises(Smtpc::SMTPServerBusy) { smtp.send_message(MSG, "a@example.org", "defer@example.org") }
      assert_equal 450, e.code

      e = assert_raises(Smtpc::SMTPFatalError) { smtp.send_message(MSG, "refuse@example.org", "b@example.org") }
      assert_equal "SMTPC_ESENDER_REFUSED", e.status_name
      assert_match(/5\.7\.1/, e.text)
    end
    m = srv.messages(1)
    assert_equal 1, m.size
    assert_equal ["ok@example.org"], m[0]["rcpt_tos"]
  end

  def test_step_by_step_rcptto_list
    srv = start_aiosmtpd
    Smtpc::SMTP.start("127.0.0.1", srv.port, helo: "client.test", starttls: false) do |smtp|
      assert_equal "250", smtp.mailfrom("a@example.org").status
      r = smtp.rcptto_list(["reject1@example.org", "ok@example.org"]) { smtp.data(MSG) }
      assert_equal 250, r.code
      assert_equal %i[refused delivered], smtp.last_result.recipients.map(&:state)
      smtp.mailfrom("a@example.org")
      assert_raises(Smtpc::SMTPFatalError) { smtp.rcptto_list(["reject2@example.org"]) { flunk "yielded" } }
      smtp.rset
    end
    m = srv.messages(1)
    assert_equal 1, m.size
    assert_equal ["ok@example.org"], m[0]["rcpt_tos"]
    assert_equal WIRE, unhex(m[0]["content_hex"])
  end

  def test_bad_argument_sends_nothing
    srv = start_aiosmtpd
    Smtpc::SMTP.start("127.0.0.1", srv.port, helo: "client.test", starttls: false) do |smtp|
      e = assert_raises(Smtpc::SMTPArgumentError) do
        smtp.send_message(MSG, "a@example.org", "b\r\nRCPT TO:<evil@example.org>@example.org")
      end
      assert_match(/recipient address/, e.message)
      assert_raises(ArgumentError) { smtp.send_message(MSG, "a@example.org") }
    end
    sleep 0.2
    assert_empty Dir[File.join(srv.dir, "spool", "msg-*.json")]
  end

  def test_auth
    srv = start_aiosmtpd("--auth", "user:secret", "--auth-plaintext")
    Smtpc::SMTP.start("127.0.0.1", srv.port, helo: "client.test", user: "user", secret: "secret",
                                              starttls: false) do |smtp|
      assert_includes smtp.capable_auth_types, "PLAIN"
      smtp.send_message(MSG, "a@example.org", "b@example.org")
    end
    assert_equal 1, srv.messages(1).size
    e = assert_raises(Smtpc::SMTPAuthenticationError) do
      Smtpc::SMTP.start("127.0.0.1", srv.port, user: "user", secret: "wrong", authtype: :plain, starttls: false)
    end
    assert_equal 535, e.code
    assert_equal "SMTPC_EAUTH", e.status_name
  end

  def test_starttls_verified
    pki = SmtpcTest.pki
    srv = start_aiosmtpd("--tls-cert", File.join(pki, "server.pem"), "--tls-key", File.join(pki, "server.key"))
    Smtpc::SMTP.start("127.0.0.1", srv.port, helo: "client.test", starttls: :always,
                                              ca_file: File.join(pki, "ca.pem")) do |smtp|
      assert smtp.tls?
      assert smtp.tls_verified?
      smtp.send_message(MSG, "a@example.org", "b@example.org")
    end
    m = srv.messages(1).first
    assert_equal "starttls", m["tls"]
    assert_equal WIRE, unhex(m["content_hex"])

    # A CA that did not sign the server's certificate: refused, nothing sent after STARTTLS.
    e = assert_raises(Smtpc::SMTPTLSError) do
      Smtpc::SMTP.start("127.0.0.1", srv.port, starttls: :always, ca_file: File.join(pki, "ca2.pem"))
    end
    assert_equal "SMTPC_ETLS_VERIFY", e.status_name
    assert_equal 1, Dir[File.join(srv.dir, "spool", "msg-*.json")].size
  end

  def test_lmtp_per_recipient
    srv = start_aiosmtpd("--mode", "lmtp")
    Smtpc::LMTP.start("127.0.0.1", srv.port, helo: "client.test", starttls: false) do |lmtp|
      r = lmtp.send_message(MSG, "a@example.org", "fail1@example.org", "ok@example.org")
      assert_equal %i[failed delivered], r.recipients.map(&:state)
      assert_equal 550, r.recipients[0].data_reply.code
      assert_equal 250, r.recipients[1].data_reply.code
    end
    m = srv.messages(1).first
    assert_equal "lmtp", m["mode"]
    assert_equal %w[fail1@example.org ok@example.org], m["rcpt_tos"]
  end

  def test_large_streamed_body
    srv = start_aiosmtpd
    line = "#{'x' * 76}\n"
    body = "Subject: big\n\n#{line * 60_000}" # about 4.6 MB, read in blocks
    io = StringIO.new(body)
    Smtpc::SMTP.start("127.0.0.1", srv.port, helo: "client.test", starttls: false) do |smtp|
      r = smtp.send_message_stream(io, "a@example.org", "b@example.org")
      assert_equal [:delivered], r.recipients.map(&:state)
    end
    got = unhex(srv.messages(1).first["content_hex"])
    assert_equal body.gsub("\n", "\r\n").bytesize, got.bytesize
    assert_equal body.gsub("\n", "\r\n"), got
  end

  def test_exception_from_body_source_is_reraised
    srv = start_aiosmtpd
    src = Object.new
    def src.read(_n) = raise(IOError, "disk gone")
    Smtpc::SMTP.start("127.0.0.1", srv.port, helo: "client.test", starttls: false) do |smtp|
      e = assert_raises(IOError) { smtp.send_message(src, "a@example.org", "b@example.org") }
      assert_equal "disk gone", e.message
    end
    sleep 0.2
    assert_empty Dir[File.join(srv.dir, "spool", "msg-*.json")]
  end

  def test_fault_connection_lost_after_message
    srv = start_fault([
      { "send" => "220 fault.test ESMTP\r\n" },
      { "expect" => "EHLO client.test" }, { "send" => "250 fault.test\r\n" },
      { "expect" => "MAIL FROM:<a@example.org>" }, { "send" => "250 ok\r\n" },
      { "expect" => "RCPT TO:<b@example.org>" }, { "send" => "250 ok\r\n" },
      { "expect" => "DATA" }, { "send" => "354 go\r\n" },
      { "read_until" => "\r\n.\r\n" }, { "close" => true }
    ])
    smtp = Smtpc::SMTP.start("127.0.0.1", srv.port, helo: "client.test", starttls: false)
    e = assert_raises(Smtpc::SMTPDeliveryUnknown) { smtp.send_message(MSG, "a@example.org", "b@example.org") }
    assert_equal "SMTPC_EDELIVERY_UNKNOWN", e.status_name
    assert_equal [:unknown], e.result.recipients.map(&:state)
    smtp.finish
    assert_equal "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n" \
                 "Subject: hi\r\n\r\n..dot line\r\nbody\r\n.\r\n", transcript(srv)
  end

  def test_connect_refused
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
    e = assert_raises(Smtpc::SMTPConnectionError) { Smtpc::SMTP.start("127.0.0.1", port, open_timeout: 5) }
    assert_equal "SMTPC_ECONNECT", e.status_name
  end
end
