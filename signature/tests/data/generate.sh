#!/bin/sh
# Regenerates the RSA / ECDSA fixtures of ehealth-signature with the openssl CLI (3.0 or later):
# a test PKI (root → RSA and P-384 issuing CAs → signers, a TSA, an OCSP responder), CMS
# envelopes signed by `openssl cms`, RFC 3161 tokens by `openssl ts` over each envelope's
# signature value, CRLs by `openssl ca -gencrl`, OCSP responses by `openssl ocsp`.
# Run from anywhere: sh signature/tests/data/generate.sh. The tests read the committed output
# and need no openssl; `now.txt` is the generation time + 1 hour, the tests' "now".
set -eu
cd "$(dirname "$0")"
rm -rf pki envelopes tokens crl crl-stale ocsp
mkdir -p pki envelopes tokens crl crl-stale ocsp
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
T=$(date -u +%s)
echo $((T + 3600)) > now.txt
at() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }

cat > "$W/ext.cnf" <<CNF
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[person]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
# subjectDirectoryAttributes: DRFO 1.2.804.2.1.1.1.11.1.4.1.1 = PrintableString "1234567890"
2.5.29.9 = DER:301E301C060C2A8624020101010B01040101310C130A31323334353637383930
[conflict]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
# DRFO "0987654321" while the subject says TINUA-1234567890
2.5.29.9 = DER:301E301C060C2A8624020101010B01040101310C130A30393837363534333231
[plain]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
[seal]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
# EDRPOU 1.2.804.2.1.1.1.11.1.4.2.1 = PrintableString "12345678"
2.5.29.9 = DER:301C301A060C2A8624020101010B01040201310A13083132333435363738
[encipher]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyAgreement
[tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
[ocsp]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, OCSPSigning
[crit]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
1.3.6.1.4.1.99999.1 = critical, DER:0500
CNF

# An openssl-ca database per issuing CA.
mkca() {
  mkdir -p "$W/$1/new"; : > "$W/$1/index.txt"; echo 1000 > "$W/$1/serial"; echo 1000 > "$W/$1/crlnumber"
  cat > "$W/$1/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
dir = $W/$1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = $PWD/pki/$1.pem
private_key = $W/$1.key
default_md = $2
policy = any
unique_subject = no
preserve = yes
copy_extensions = none
utf8 = yes
[any]
commonName = supplied
surname = optional
givenName = optional
serialNumber = optional
organizationName = optional
organizationIdentifier = optional
countryName = optional
CNF
}
issue() { # issue CA NAME KEYALG SECTION SUBJECT [extra openssl-ca options]
  ca=$1 name=$2 alg=$3 section=$4 subj=$5; shift 5
  case $alg in
    rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/$name.key" 2>/dev/null ;;
    p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/$name.key" ;;
    p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$W/$name.key" ;;
  esac
  openssl req -new -utf8 -key "$W/$name.key" -subj "$subj" -out "$W/$name.csr"
  openssl ca -batch -config "$W/$ca/ca.cnf" -extfile "$W/ext.cnf" -extensions "$section" \
    -startdate "$(at $((T - 86400)))" -enddate "$(at $((T + 20 * 365 * 86400)))" \
    -in "$W/$name.csr" -out "pki/$name.pem" -notext "$@" 2>/dev/null
}

# Root (RSA, self-signed) → "Test RSA CA" (RSA) and "Test P-384 CA" (EC P-384).
openssl req -x509 -new -utf8 -newkey rsa:2048 -nodes -keyout "$W/root.key" -sha256 -days 7300 \
  -subj "/CN=Test Root CA/O=ehealth-es tests/C=UA" -config "$W/ext.cnf" -extensions root \
  -set_serial 1 -out pki/root.pem 2>/dev/null
mkca root sha256
issue root ca-rsa rsa ca "/CN=Test RSA CA/O=ehealth-es tests/C=UA"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$W/ca-ec.key"
openssl req -new -key "$W/ca-ec.key" -subj "/CN=Test P-384 CA/O=ehealth-es tests/C=UA" -out "$W/ca-ec.csr"
openssl ca -batch -config "$W/root/ca.cnf" -extfile "$W/ext.cnf" -extensions ca \
  -startdate "$(at $((T - 86400)))" -enddate "$(at $((T + 20 * 365 * 86400)))" \
  -in "$W/ca-ec.csr" -out pki/ca-ec.pem -notext 2>/dev/null
mkca ca-rsa sha256
mkca ca-ec sha384

PERSON="/CN=Петренко Іван Васильович/SN=Петренко/GN=Іван Васильович/serialNumber=TINUA-1234567890/C=UA"
issue ca-rsa signer-rsa rsa person "$PERSON"
issue ca-rsa signer-pss rsa person "$PERSON" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
issue ca-ec signer-p256 p256 person "$PERSON"
issue ca-ec signer-p384 p384 person "$PERSON"
issue ca-rsa signer-revoked rsa plain "/CN=Revoked Signer/serialNumber=TINUA-1111111111/C=UA"
issue ca-rsa signer-conflict rsa conflict "$PERSON"
issue ca-rsa signer-passport rsa plain "/CN=Паспорт Тест/serialNumber=PASUA-KA123456/C=UA"
issue ca-rsa signer-encipher rsa encipher "$PERSON"
issue ca-rsa signer-critical rsa crit "$PERSON"
issue ca-ec seal-p256 p256 seal "/CN=ТОВ Тест/O=ТОВ Тест/organizationIdentifier=NTRUA-12345678/C=UA"
# Valid at the timestamp but no longer an hour later; valid an hour later but not yet at the timestamp.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/signer-expiring.key" 2>/dev/null
openssl req -new -utf8 -key "$W/signer-expiring.key" -subj "$PERSON" -out "$W/signer-expiring.csr"
openssl ca -batch -config "$W/ca-rsa/ca.cnf" -extfile "$W/ext.cnf" -extensions person \
  -startdate "$(at $((T - 86400)))" -enddate "$(at $((T + 1800)))" \
  -in "$W/signer-expiring.csr" -out pki/signer-expiring.pem -notext 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/signer-future.key" 2>/dev/null
openssl req -new -utf8 -key "$W/signer-future.key" -subj "$PERSON" -out "$W/signer-future.csr"
openssl ca -batch -config "$W/ca-rsa/ca.cnf" -extfile "$W/ext.cnf" -extensions person \
  -startdate "$(at $((T + 1800)))" -enddate "$(at $((T + 20 * 365 * 86400)))" \
  -in "$W/signer-future.csr" -out pki/signer-future.pem -notext 2>/dev/null
issue ca-rsa tsa rsa tsa "/CN=Test TSA/O=ehealth-es tests/C=UA"
issue ca-rsa ocsp rsa ocsp "/CN=Test OCSP responder/O=ehealth-es tests/C=UA"
# A TSA nobody trusts.
openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$W/tsa-rogue.key" -sha256 -days 7300 \
  -subj "/CN=Rogue TSA/C=UA" -config "$W/ext.cnf" -extensions tsa -set_serial 7 \
  -out pki/tsa-rogue.pem 2>/dev/null

# Envelopes: attached content, the signer's certificate and its CA in the envelope.
printf '{"id":"4b9a2a3c-0b1e-4c2f-9a77-3f1d6f0e8a11","status":"active"}' > envelopes/content.json
sign() { # sign NAME SIGNER CA [openssl-cms options]
  name=$1 signer=$2 ca=$3; shift 3
  openssl cms -sign -binary -nodetach -in "${IN:-envelopes/content.json}" -signer "pki/$signer.pem" \
    -inkey "$W/$signer.key" -certfile "pki/$ca.pem" -outform DER -out "envelopes/$name.p7s" "$@"
}
sign rsa signer-rsa ca-rsa -md sha256
sign pss signer-pss ca-rsa -md sha256 -keyopt rsa_padding_mode:pss -keyopt rsa_pss_saltlen:32
sign p256 signer-p256 ca-ec -md sha256
sign p384 signer-p384 ca-ec -md sha384
sign rsa-sha512 signer-rsa ca-rsa -md sha512
sign rsa-noattr signer-rsa ca-rsa -md sha256 -noattr
sign revoked signer-revoked ca-rsa -md sha256
sign conflict signer-conflict ca-rsa -md sha256
sign encipher signer-encipher ca-rsa -md sha256
sign critical signer-critical ca-rsa -md sha256
sign expiring signer-expiring ca-rsa -md sha256
sign future signer-future ca-rsa -md sha256
IN=envelopes/rsa.p7s sign seal-over-rsa seal-p256 ca-ec -md sha256
openssl cms -sign -binary -nodetach -in envelopes/content.json -signer pki/signer-rsa.pem \
  -inkey "$W/signer-rsa.key" -signer pki/signer-p256.pem -inkey "$W/signer-p256.key" \
  -certfile pki/ca-rsa.pem -md sha256 -outform DER -out envelopes/two-signers.p7s
openssl cms -sign -binary -in envelopes/content.json -signer pki/signer-rsa.pem \
  -inkey "$W/signer-rsa.key" -md sha256 -outform DER -out envelopes/detached.p7s
# A SignedData without SignerInfos (certificates only), as CA bundles are.
openssl crl2pkcs7 -nocrl -certfile pki/root.pem -certfile pki/ca-rsa.pem -certfile pki/ca-ec.pem \
  -outform DER -out pki/bundle.p7b

# RFC 3161 tokens over each envelope's signature value (the last OCTET STRING of a one-signer
# envelope), SHA-256 imprint, the TSA certificate and its CA in the token.
cat > "$W/ts.cnf" <<CNF
[tsa]
default_tsa = t
[t]
serial = $W/tsaserial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
echo 01 > "$W/tsaserial"
signature_value() {
  line=$(openssl asn1parse -inform DER -in "$1" | grep 'prim: OCTET STRING' | tail -1)
  off=${line%%:*}; hl=$(echo "$line" | sed 's/.*hl= *\([0-9]*\).*/\1/'); len=$(echo "$line" | sed 's/.* l= *\([0-9]*\).*/\1/')
  dd if="$1" bs=1 skip=$((off + hl)) count="$len" status=none
}
token() { # token ENVELOPE TSA CHAIN OUT
  signature_value "envelopes/$1.p7s" > "$W/sig.bin"
  openssl ts -query -data "$W/sig.bin" -sha256 -no_nonce -cert -out "$W/q.tsq" 2>/dev/null
  openssl ts -reply -config "$W/ts.cnf" -queryfile "$W/q.tsq" -signer "pki/$2.pem" -inkey "$W/$2.key" \
    -chain "pki/$3.pem" -token_out -out "tokens/$4.tst" 2>/dev/null
}
for e in rsa pss p256 p384 rsa-sha512 rsa-noattr revoked conflict encipher critical expiring future seal-over-rsa; do
  token "$e" tsa ca-rsa "$e"
done
token rsa tsa-rogue tsa-rogue rsa-by-rogue

# CRLs: the RSA CA revokes signer-revoked (PEM), the P-384 CA and the root revoke nothing (DER).
crl() { # crl CA OUT_DIR FORMAT [options]
  ca=$1 out=$2 fmt=$3; shift 3
  openssl ca -batch -config "$W/$ca/ca.cnf" -gencrl -out "$W/$ca.crl.pem" "$@" 2>/dev/null
  if [ "$fmt" = der ]; then openssl crl -in "$W/$ca.crl.pem" -outform DER -out "$out/$ca.crl"
  else cp "$W/$ca.crl.pem" "$out/$ca.crl.pem"; fi
}
openssl ca -batch -config "$W/ca-rsa/ca.cnf" -revoke pki/signer-revoked.pem -crl_reason keyCompromise 2>/dev/null
crl ca-rsa crl pem -crldays 3650
crl ca-ec crl der -crldays 3650
crl root crl der -crldays 3650
crl ca-rsa crl-stale der -crl_lastupdate "$(at $((T - 7200)))" -crl_nextupdate "$(at $((T - 3600)))"
cp crl/root.crl crl/ca-ec.crl crl-stale/

# OCSP responses of the delegated responder for signer-rsa (good) and signer-revoked (revoked).
for s in signer-rsa signer-revoked; do
  openssl ocsp -issuer pki/ca-rsa.pem -cert "pki/$s.pem" -no_nonce -reqout "$W/$s.req" 2>/dev/null
  openssl ocsp -index "$W/ca-rsa/index.txt" -rsigner pki/ocsp.pem -rkey "$W/ocsp.key" -CA pki/ca-rsa.pem \
    -reqin "$W/$s.req" -respout "ocsp/$s.der" -ndays 3650 2>/dev/null
done
echo "fixtures written; now.txt = $(cat now.txt)"
