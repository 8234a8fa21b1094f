# SPDX-License-Identifier: MIT
# frozen_string_literal: true

# Smtpc: an SMTP/LMTP client for Ruby over libsmtpc, with the API of Net::SMTP.
#
#   Smtpc::SMTP.start("mail.example.org", 587, helo: "client.example.org", user: "me",
#                     secret: "pw", starttls: :always) do |smtp|
#     result = smtp.send_message(msg, "me@example.org", "you@example.org", "them@example.org")
#     result.refused.each { |r| warn "#{r.address}: #{r.rcpt_reply}" }
#   end
#
# Differences from Net::SMTP: certificate verification and the plaintext-AUTH refusal are the
# library's (docs/tls.md); send_message returns a Result with every recipient's outcome (a partial
# refusal is not an exception); the body is sent with line ends normalised and dot-stuffed by the
# library, from a String or, with send_message_stream, from any IO.
require "smtpc/native"

module Smtpc
  VERSION = Native.version

  # A server reply. #status is the code as a String ("250"), as Net::SMTP::Response#status.
  Response = Struct.new(:code, :enhanced, :message) do
    def status = code.to_s
    def string = "#{code} #{message}"
    def success? = code.between?(200, 399)
    def to_s = string

    def self.from_native(reply)
      return nil if reply.nil?

      new(Native.reply_code(reply), Native.reply_enhanced(reply), Native.reply_text(reply))
    end
  end

  # One recipient of a transaction. #state is a Symbol; a state this version does not know (the
  # library may add states) is :"unknown_<n>".
  Recipient = Struct.new(:address, :state, :rcpt_reply, :data_reply) do
    def delivered? = state == :delivered
    def refused? = state == :refused
  end

  RCPT_STATES = {
    Native::SMTPC_RCPT_NOT_ATTEMPTED => :not_attempted,
    Native::SMTPC_RCPT_REFUSED => :refused,
    Native::SMTPC_RCPT_ACCEPTED => :accepted,
    Native::SMTPC_RCPT_DELIVERED => :delivered,
    Native::SMTPC_RCPT_FAILED => :failed,
    Native::SMTPC_RCPT_UNKNOWN => :unknown
  }.freeze

  # The outcome of one transaction, recipient by recipient (copied out of the library).
  class Result
    attr_reader :mail_reply, :recipients

    def initialize(mail_reply, recipients)
      @mail_reply = mail_reply
      @recipients = recipients.freeze
    end

    def self.from_native(res)
      return nil if res.nil?

      rcpts = (0...Native.result_count(res)).map do |i|
        st = Native.result_state(res, i)
        Recipient.new(Native.result_recipient(res, i), RCPT_STATES.fetch(st) { :"unknown_#{st}" },
                      Response.from_native(Native.result_rcpt_reply(res, i)),
                      Response.from_native(Native.result_data_reply(res, i)))
      end
      new(Response.from_native(Native.result_mail_reply(res)), rcpts)
    end

    def delivered = recipients.select(&:delivered?)
    def refused = recipients.select(&:refused?)
    def success? = !delivered.empty?
  end

  # Every error of this library: the status (negative SMTPC_E* code and its name), the server's
  # reply when one decided it (code and text), and the per-recipient result of a failed transaction.
  class SMTPError < StandardError
    attr_reader :status, :status_name, :response, :result

    def initialize(message = nil, status: nil, status_name: nil, response: nil, result: nil)
      super(message)
      @status = status
      @status_name = status_name
      @response = response
      @result = result
    end

    def code = response&.code
    def text = response&.message
  end

  # Net::SMTP's exceptions (Net::SMTPError's subclasses), same names and meanings.
  class SMTPAuthenticationError < SMTPError; end # AUTH failed or could not be tried
  class SMTPServerBusy < SMTPError; end          # a 4xx reply: try again later
  class SMTPSyntaxError < SMTPError; end         # a 500..504 reply: the command was not understood
  class SMTPFatalError < SMTPError; end          # any other 5xx reply
  class SMTPUnknownError < SMTPError; end        # a reply outside these, or a protocol failure
  class SMTPUnsupportedCommand < SMTPError; end  # the server does not offer what the call needs
  # Not in Net::SMTP (which raises IOError, OpenSSL and timeout exceptions there):
  class SMTPConnectionError < SMTPError; end     # resolve, connect, I/O, timeout, lost connection
  class SMTPTLSError < SMTPError; end            # TLS failure, verification failure, TLS required
  class SMTPArgumentError < SMTPError; end       # bad argument (nothing was sent)
  # The connection was lost after the whole message was sent: it may have been delivered.
  class SMTPDeliveryUnknown < SMTPConnectionError; end

  S = Native
  BY_STATUS = {
    S::SMTPC_EINVAL => SMTPArgumentError,
    S::SMTPC_ENOTSUPPORTED => SMTPUnsupportedCommand,
    S::SMTPC_EAUTH => SMTPAuthenticationError,
    S::SMTPC_EAUTH_MECHANISM => SMTPAuthenticationError,
    S::SMTPC_EAUTH_INSECURE => SMTPAuthenticationError,
    S::SMTPC_ETLS => SMTPTLSError,
    S::SMTPC_ETLS_VERIFY => SMTPTLSError,
    S::SMTPC_ETLS_REQUIRED => SMTPTLSError,
    S::SMTPC_ERESOLVE => SMTPConnectionError,
    S::SMTPC_ECONNECT => SMTPConnectionError,
    S::SMTPC_ETIMEOUT => SMTPConnectionError,
    S::SMTPC_EIO => SMTPConnectionError,
    S::SMTPC_EDISCONNECTED => SMTPConnectionError,
    S::SMTPC_ECANCELLED => SMTPConnectionError,
    S::SMTPC_ENOTCONN => SMTPConnectionError,
    S::SMTPC_EDELIVERY_UNKNOWN => SMTPDeliveryUnknown
  }.freeze
  # Statuses whose reply decides the class (Net::SMTP's check_response).
  BY_REPLY = [S::SMTPC_EGREETING, S::SMTPC_EHELO, S::SMTPC_EREPLY, S::SMTPC_ECLOSING,
              S::SMTPC_ESENDER_REFUSED, S::SMTPC_ERECIPIENTS_REFUSED, S::SMTPC_EDATA_REFUSED].freeze
  # Statuses after which the client's last reply is the server's answer that caused them.
  WITH_REPLY = (BY_REPLY + [S::SMTPC_EAUTH]).freeze
  private_constant :S

  def self.error_class(status, reply_code)
    return BY_STATUS[status] if BY_STATUS.key?(status)
    return SMTPUnknownError unless BY_REPLY.include?(status) && reply_code

    case reply_code
    when 400..499 then SMTPServerBusy
    when 500..504 then SMTPSyntaxError
    when 505..599 then SMTPFatalError
    else SMTPUnknownError
    end
  end

  # A session, as Net::SMTP: start it (with a block: finished when the block returns), send
  # messages, finish. Not thread-safe: one thread at a time per object.
  class SMTP
    PROTOCOL = Native::SMTPC_PROTOCOL_SMTP

    def self.default_port = 25

    # Net::SMTP.start(address, port, helo:, user:, secret:, authtype:, tls:, starttls:, ...).
    def self.start(address, port = nil, helo: nil, user: nil, secret: nil, password: nil,
                   authtype: nil, **opts, &block)
      new(address, port, **opts).start(helo: helo, user: user, secret: secret || password,
                                        authtype: authtype, &block)
    end

    attr_reader :address, :port

    # tls: true for TLS from the first byte (SMTPS); starttls: :always (required), :auto (when
    # offered; the certificate is checked and recorded, see docs/tls.md) or false; tls_verify:
    # false only for tests; ca_file / ca_path replace the system trust store; tls_hostname: the name
    # the certificate must carry when it differs from address.
    def initialize(address, port = nil, tls: false, starttls: :auto, tls_verify: true, tls_hostname: nil,
                   ca_file: nil, ca_path: nil, ssl_context_params: nil, open_timeout: 30, read_timeout: 300)
      @address = address
      @port = port || self.class.default_port
      params = ssl_context_params || {}
      @tls = { tls: tls, starttls: starttls, verify: tls_verify, hostname: tls_hostname,
               ca_file: ca_file || params[:ca_file], ca_path: ca_path || params[:ca_path] }
      @open_timeout = open_timeout
      @read_timeout = read_timeout
      @handle = nil
      @started = false
    end

    def started? = @started

    def start(helo: nil, user: nil, secret: nil, authtype: nil)
      raise IOError, "SMTP session already started" if @started

      open_client
      call(:client_set_local_hostname, helo.to_s) if helo
      call(:client_connect, @address, @port)
      @started = true
      call(:client_ehlo_or_helo_if_needed)
      authenticate(user, secret, authtype) if user
      return self unless block_given?

      begin
        yield self
      ensure
        finish if @started
      end
    end

    # QUIT and close; the handle is freed.
    def finish
      raise IOError, "not yet started" unless @started

      @started = false
      begin
        Native.client_quit(ptr) if Native.client_is_connected(ptr) == 1
      rescue Native::Error
        nil # the session ends anyway
      ensure
        release
      end
    end

    # Send `msgstr` (String, or anything with #read) from `from_addr` to each of `to_addrs`.
    # Returns a Result; raises when no recipient got the message (the error carries the Result).
    def send_message(msgstr, from_addr, *to_addrs)
      return send_message_stream(msgstr, from_addr, *to_addrs) if msgstr.respond_to?(:read)

      with_envelope(from_addr, to_addrs) { |env| call(:client_sendmail, env, msgstr.to_s) }
      last_result
    end
    alias send_mail send_message
    alias sendmail send_message

    # As send_message, the body read from `io` (io.read(n)) in blocks: any size in constant memory.
    # size_hint, when given, is declared to the server (SIZE).
    def send_message_stream(io, from_addr, *to_addrs, size_hint: 0)
      with_envelope(from_addr, to_addrs) { |env| call(:client_sendmail_stream, env, size_hint, io) }
      last_result
    end

    # Net::SMTP's step-by-step transaction: mailfrom, rcptto (or rcptto_list), data. Each returns
    # the server's Response and raises as send_message does; last_result has every recipient.
    def mailfrom(from_addr)
      call(:client_mail, from_addr.to_s, nil)
      last_response
    end

    def rcptto(to_addr)
      call(:client_rcpt, to_addr.to_s, nil)
      last_response
    end

    # RCPT TO for each address; the refused ones are skipped (their replies are in last_result),
    # and when every one was refused the last refusal is raised. Then yields (send the data there)
    # and returns what the block returns.
    def rcptto_list(to_addrs)
      to_addrs = to_addrs.flatten
      raise ArgumentError, "mail destination not given" if to_addrs.empty?

      refusal = nil
      accepted = to_addrs.count do |addr|
        rcptto(addr)
        true
      rescue SMTPServerBusy, SMTPSyntaxError, SMTPFatalError => e
        refusal = e
        false
      end
      raise refusal if accepted.zero?

      yield
    end

    # DATA and the message (line ends normalised, dot-stuffed by the library).
    def data(msgstr)
      call(:client_data, msgstr.to_s)
      last_response
    end

    # The per-recipient outcome of the last transaction (copied), or nil.
    def last_result = Result.from_native(Native.client_last_result(ptr))

    # authtype: nil for the strongest password mechanism offered, else :plain, :login, :cram_md5,
    # :scram_sha_1, :scram_sha_256 (or the SASL name).
    def authenticate(user, secret, authtype = nil)
      if authtype.nil?
        call(:client_login, user.to_s, secret.to_s)
      else
        call(:client_auth_password, authtype.to_s.upcase.tr("_", "-"), user.to_s, secret.to_s, 1)
      end
    end

    def capable?(keyword) = Native.client_has_extn(ptr, keyword.to_s) == 1
    def capable_starttls? = capable?("STARTTLS")
    def esmtp? = Native.client_does_esmtp(ptr) == 1

    def capable_auth_types
      (Native.client_extn_params(ptr, "AUTH") || "").split
    end

    # The EHLO keywords and their parameters, as smtplib's esmtp_features.
    def capabilities
      (0...Native.client_extn_count(ptr)).to_h do |i|
        [Native.client_extn_name(ptr, i), Native.client_extn_params_at(ptr, i)]
      end
    end

    def tls? = Native.client_tls_active(ptr) == 1
    def tls_verified? = Native.client_tls_verified(ptr) == 1
    def tls_version = Native.client_tls_version(ptr)

    def rset
      call(:client_rset)
      last_response
    end

    def noop
      call(:client_noop)
      last_response
    end

    def last_response = Response.from_native(Native.client_last_reply(ptr))

    def inspect = "#<#{self.class} #{@address}:#{@port} started=#{@started}>"

    private

    def ptr
      raise IOError, "SMTP session not started" if @handle.nil? || @handle[0].nil?

      @handle[0]
    end

    def open_client
      c = Native.client_new(self.class::PROTOCOL)
      @handle = [c]
      # smtpc_client_free() calls no callback, so a finalizer may run it on the GC's behalf.
      ObjectSpace.define_finalizer(self, self.class.send(:finalizer, @handle))
      Native.client_set_connect_timeout(c, (@open_timeout * 1000).to_i)
      Native.client_set_command_timeout(c, (@read_timeout * 1000).to_i)
      setup_tls(c)
    rescue Native::Error => e
      release
      raise translate(e)
    end

    def setup_tls(c)
      t = @tls
      policy = if t[:tls] then Native::SMTPC_TLS_IMPLICIT
               elsif t[:starttls] == :always || t[:starttls] == true then Native::SMTPC_TLS_REQUIRED
               elsif t[:starttls] == :auto then Native::SMTPC_TLS_OPPORTUNISTIC
               else Native::SMTPC_TLS_NONE
               end
      Native.client_set_tls_policy(c, policy)
      Native.client_set_tls_server_name(c, t[:hostname]) if t[:hostname]
      return if t[:verify] && t[:ca_file].nil? && t[:ca_path].nil?

      cfg = Native.tls_config_new
      begin
        Native.tls_config_set_ca_file(cfg, t[:ca_file].to_s) if t[:ca_file]
        Native.tls_config_set_ca_path(cfg, t[:ca_path].to_s) if t[:ca_path]
        Native.tls_config_set_verify_peer(cfg, 0) unless t[:verify]
        Native.client_set_tls_config(c, cfg) # the client keeps its own reference
      ensure
        Native.tls_config_free(cfg)
      end
    end

    def self.finalizer(handle)
      proc do
        c = handle[0]
        handle[0] = nil
        Native.client_free(c) if c
      end
    end
    private_class_method :finalizer

    def release
      return if @handle.nil?

      c = @handle[0]
      @handle[0] = nil
      Native.client_free(c) if c
    end

    def with_envelope(from_addr, to_addrs)
      to_addrs = to_addrs.flatten
      raise ArgumentError, "mail destination not given" if to_addrs.empty?

      env = Native.envelope_new
      begin
        begin
          Native.envelope_set_sender(env, from_addr.to_s)
          to_addrs.each { |a| Native.envelope_add_recipient(env, a.to_s) }
        rescue Native::Error => e
          raise SMTPArgumentError.new(e.message, status: e.code, status_name: e.name)
        end
        yield env
      ensure
        Native.envelope_free(env)
      end
    end

    def call(fn, *args)
      Native.public_send(fn, ptr, *args)
    rescue Native::Error => e
      raise translate(e)
    end

    def translate(err)
      reply = @handle && @handle[0] ? last_response : nil
      result = nil
      if [Native::SMTPC_ESENDER_REFUSED, Native::SMTPC_ERECIPIENTS_REFUSED, Native::SMTPC_EDATA_REFUSED,
          Native::SMTPC_EDELIVERY_UNKNOWN].include?(err.code)
        result = last_result
      end
      reply = nil unless Smtpc::WITH_REPLY.include?(err.code)
      klass = Smtpc.error_class(err.code, reply&.code)
      klass.new(err.message, status: err.code, status_name: err.name, response: reply, result: result)
    end
  end

  # LMTP (RFC 2033): one reply per recipient after the message, in Result#recipients.
  class LMTP < SMTP
    PROTOCOL = Native::SMTPC_PROTOCOL_LMTP

    def self.default_port = 2003
  end
end
