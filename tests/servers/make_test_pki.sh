#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Makes the test PKI for the smtpc TLS tests with the openssl command-line tool (Debian: openssl).
#
# Usage: make_test_pki.sh DIR        (DIR must exist and should be private; it is filled, never cleaned)
#
# Everything is made fresh at test time; nothing here is a secret. All keys are EC P-256 (fast to make,
# accepted at OpenSSL security level 2). Files written into DIR:
#
#   ca.pem ca.der ca.key         the test CA (PEM, DER, key)
#   capath/                      ca.pem in OpenSSL's hashed-name directory layout (openssl rehash)
#   ca2.pem ca2.key              a second CA that no test trusts
#   server.pem server.key        signed by the CA, SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   server.fp                    SHA-256 fingerprint of server.pem's DER form, 64 lower-case hex digits
#   server.subject               server.pem's subject in OpenSSL's RFC 2253 one-line form
#   server-chain.pem             server.pem followed by server.key (one file, for servers that want it)
#   noip.pem noip.key            signed by the CA, SAN DNS:localhost only (no IP address)
#   expired.pem expired.key      signed by the CA, SANs as server.pem, valid 2020-01-01 .. 2020-02-01
#   wronghost.pem wronghost.key  signed by the CA, SAN DNS:mail.example.org only
#   wildcard.pem wildcard.key    signed by the CA, SAN DNS:m*.smtpc.test and DNS:local* (partial
#                                wildcards: must match neither mail.smtpc.test nor localhost)
#   selfsigned.pem selfsigned.key  self-signed, SANs as server.pem
#   unknownca.pem unknownca.key  signed by ca2, SANs as server.pem
#   client.pem client.key        client certificate (CN=smtpc test client) signed by the CA
#   client-enc.key               client.key encrypted (AES-256) with the pass phrase in client.pass
#   client.pass                  the pass phrase (one line)
#   client.cn                    the client certificate's common name
#
# Each failing certificate differs from server.pem in one respect only (the others carry the right
# names), so that a check of the name alone cannot make a test pass. The script checks every file with
# `openssl verify` and fails (exit 1) if any verifies differently from what the tests expect.
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 EXISTING_DIR" >&2
    exit 2
fi
dir=$(cd "$1" && pwd)
cd "$dir"
umask 077
export OPENSSL_CONF=/dev/null # no system configuration: only what is written here counts

good_san="DNS:localhost,IP:127.0.0.1,IP:::1"
client_cn="smtpc test client"
client_pass="smtpc test pass phrase"

cat > req.cnf <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_self ]
basicConstraints = critical, CA:FALSE
subjectKeyIdentifier = hash
extendedKeyUsage = serverAuth
EOF

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# make_ca NAME SUBJECT
make_ca() {
    local name=$1 subject=$2
    newkey "$name.key"
    openssl req -new -x509 -config req.cnf -extensions v3_ca -key "$name.key" -subj "$subject" \
        -days 3650 -sha256 -out "$name.pem"
    mkdir -p "$name-db/new"
    : > "$name-db/index.txt"
    openssl rand -hex 8 > "$name-db/serial"
    cat > "$name-db/ca.cnf" <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $dir/$name-db/index.txt
new_certs_dir = $dir/$name-db/new
serial = $dir/$name-db/serial
certificate = $dir/$name.pem
private_key = $dir/$name.key
default_md = sha256
default_days = 365
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
EOF
}

# sign CA NAME SUBJECT SAN USAGE [openssl-ca date options...]
# Makes NAME.key and NAME.pem, signed by CA with `openssl ca` (which, unlike OpenSSL 3.0's
# `openssl x509 -req`, can set an explicit start date).
sign() {
    local ca=$1 name=$2 subject=$3 san=$4 usage=$5
    shift 5
    newkey "$name.key"
    openssl req -new -config req.cnf -key "$name.key" -subj "$subject" -out "$name.csr"
    {
        echo "basicConstraints = critical, CA:FALSE"
        echo "keyUsage = critical, digitalSignature"
        echo "extendedKeyUsage = $usage"
        echo "subjectKeyIdentifier = hash"
        echo "authorityKeyIdentifier = keyid"
        if [[ -n $san ]]; then echo "subjectAltName = $san"; fi
    } > "$name.ext"
    openssl ca -batch -notext -config "$ca-db/ca.cnf" -extfile "$name.ext" -in "$name.csr" \
        -out "$name.pem" "$@" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

make_ca ca "/O=smtpc tests/CN=smtpc Test CA"
make_ca ca2 "/O=smtpc tests/CN=smtpc Unknown CA"
openssl x509 -in ca.pem -outform DER -out ca.der
mkdir -p capath
cp ca.pem capath/ca.pem
openssl rehash capath

sign ca server "/O=smtpc tests/CN=localhost" "$good_san" serverAuth -days 365
sign ca noip "/O=smtpc tests/CN=localhost" "DNS:localhost" serverAuth -days 365
sign ca expired "/O=smtpc tests/CN=localhost" "$good_san" serverAuth \
    -startdate 20200101000000Z -enddate 20200201000000Z
sign ca wronghost "/O=smtpc tests/CN=mail.example.org" "DNS:mail.example.org" serverAuth -days 365
sign ca wildcard "/O=smtpc tests/CN=smtpc wildcard test" "DNS:m*.smtpc.test,DNS:local*" serverAuth -days 365
sign ca2 unknownca "/O=smtpc tests/CN=localhost" "$good_san" serverAuth -days 365
sign ca client "/O=smtpc tests/CN=$client_cn" "" clientAuth -days 365

newkey selfsigned.key
openssl req -new -x509 -config req.cnf -extensions v3_self -key selfsigned.key \
    -subj "/O=smtpc tests/CN=localhost" -addext "subjectAltName=$good_san" -days 365 -sha256 \
    -out selfsigned.pem

printf '%s\n' "$client_pass" > client.pass
printf '%s\n' "$client_cn" > client.cn
openssl pkey -in client.key -aes256 -passout "pass:$client_pass" -out client-enc.key

openssl x509 -in server.pem -noout -fingerprint -sha256 | sed 's/^[^=]*=//; s/://g' | tr 'A-F' 'a-f' > server.fp
openssl x509 -in server.pem -noout -subject -nameopt RFC2253 | sed 's/^subject=//' > server.subject
cat server.pem server.key > server-chain.pem

# ---- self-check: each file verifies exactly as the tests expect ----
fail=0
# expect_verify FILE CODE [verify options...]: CODE 0 = verifies, else the X509_V_ERR_* number.
expect_verify() {
    local file=$1 code=$2 out got
    shift 2
    out=$(openssl verify -CAfile ca.pem "$@" "$file" 2>&1) && got=0 ||
        got=$(printf '%s\n' "$out" | sed -n 's/^error \([0-9]*\) at .*/\1/p' | head -n 1)
    if [[ $got != "$code" ]]; then
        echo "make_test_pki: $file $*: expected verify result $code, got '$got': $out" >&2
        fail=1
    fi
}
expect_verify server.pem 0 -purpose sslserver -verify_hostname localhost
expect_verify server.pem 0 -purpose sslserver -verify_ip 127.0.0.1
expect_verify server.pem 0 -purpose sslserver -verify_ip ::1
expect_verify noip.pem 0 -purpose sslserver -verify_hostname localhost
expect_verify noip.pem 64 -purpose sslserver -verify_ip 127.0.0.1     # IP address mismatch
expect_verify expired.pem 10 -verify_hostname localhost
expect_verify selfsigned.pem 18 -verify_hostname localhost
expect_verify unknownca.pem 20 -verify_hostname localhost
expect_verify wronghost.pem 62 -verify_hostname localhost
expect_verify wronghost.pem 0 -verify_hostname mail.example.org
expect_verify client.pem 0 -purpose sslclient
if ! openssl verify -CApath capath server.pem > /dev/null 2>&1; then
    echo "make_test_pki: capath/ does not verify server.pem" >&2
    fail=1
fi
# The partial wildcard would match mail.smtpc.test under OpenSSL's default rules (X509_check_host
# with no flags): only X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS in the client can refuse it.
if ! openssl x509 -in wildcard.pem -noout -checkhost mail.smtpc.test 2>/dev/null | grep -q 'does match'; then
    echo "make_test_pki: wildcard.pem should match mail.smtpc.test when partial wildcards are allowed" >&2
    fail=1
fi
if ! openssl pkey -in client-enc.key -passin "pass:$client_pass" -noout 2>/dev/null; then
    echo "make_test_pki: client-enc.key does not open with its pass phrase" >&2
    fail=1
fi
if [[ ! $(cat server.fp) =~ ^[0-9a-f]{64}$ ]]; then
    echo "make_test_pki: bad fingerprint '$(cat server.fp)'" >&2
    fail=1
fi
rm -f req.cnf
exit $fail
