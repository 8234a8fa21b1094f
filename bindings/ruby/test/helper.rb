# SPDX-License-Identifier: MIT
# frozen_string_literal: true

# Test servers for the Ruby binding's tests, started from tests/servers (as the C and Python tests
# do): aiosmtpd (messages recorded as JSON with their exact bytes), the fault server (a transcript of
# every byte received) and a private Postfix (root only). SMTPC_SOURCE_DIR names the source tree.
require "json"
require "socket"
require "stringio"
require "minitest/autorun"
require "fileutils"
require "tmpdir"
require "timeout"
require "smtpc"

module SmtpcTest
  SOURCE = ENV.fetch("SMTPC_SOURCE_DIR")
  SERVERS = File.join(SOURCE, "tests", "servers")
  PYTHON = "/usr/bin/python3"

  # A server process that printed READY <port> (and maybe more lines).
  class Server
    attr_reader :port, :lines, :dir

    def initialize(cmd, dir, extra_lines: 0)
      @dir = dir
      @io = IO.popen(cmd, "r", err: [File.join(dir, "stderr"), "w"])
      @lines = []
      Timeout.timeout(60) do
        line = @io.gets or raise "server did not start: #{File.read(File.join(dir, 'stderr'))}"
        raise "unexpected: #{line}" unless line.start_with?("READY ")

        @port = Integer(line.split[1])
        extra_lines.times { @lines << @io.gets.to_s.chomp }
      end
    end

    def stop
      Process.kill("TERM", @io.pid)
    rescue Errno::ESRCH
      nil
    ensure
      begin
        Timeout.timeout(30) { Process.wait(@io.pid) }
      rescue StandardError
        nil
      end
      @io.close unless @io.closed?
    end

    # The messages recorded in spool/, in order, once `n` of them are there.
    def messages(n, spool: File.join(@dir, "spool"))
      Timeout.timeout(20) do
        loop do
          files = Dir[File.join(spool, "msg-*.json")].sort
          return files.map { |f| JSON.parse(File.read(f)) } if files.size >= n

          sleep 0.05
        end
      end
    end

    def read_line = @io.gets
  end

  def self.pki
    @pki ||= begin
      dir = ENV["SMTPC_TEST_PKI_DIR"]
      if dir.nil? || !File.exist?(File.join(dir, "server.pem"))
        dir = Dir.mktmpdir("smtpc-rb-pki")
        system("bash", File.join(SERVERS, "make_test_pki.sh"), dir, out: File::NULL) or raise "make_test_pki.sh failed"
      end
      dir
    end
  end

  def start_aiosmtpd(*args)
    dir = Dir.mktmpdir("smtpc-rb")
    FileUtils.mkdir_p(File.join(dir, "spool"))
    srv = Server.new([PYTHON, File.join(SERVERS, "aiosmtpd_server.py"), "--spool", File.join(dir, "spool"),
                      *args.map(&:to_s)], dir)
    (@servers ||= []) << srv
    srv
  end

  def start_fault(steps)
    dir = Dir.mktmpdir("smtpc-rb")
    File.write(File.join(dir, "script.json"), JSON.generate(steps))
    srv = Server.new([PYTHON, File.join(SERVERS, "fault_server.py"), "--script", File.join(dir, "script.json"),
                      "--transcript", File.join(dir, "transcript")], dir)
    (@servers ||= []) << srv
    srv
  end

  def transcript(srv)
    Timeout.timeout(30) { srv.read_line } # "DONE n": the transcript is complete
    File.binread(File.join(srv.dir, "transcript"))
  end

  def teardown
    (@servers || []).each(&:stop)
    super
  end

  def hex(s) = s.unpack1("H*")
  def unhex(h) = [h].pack("H*")
end
