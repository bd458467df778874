# SPDX-License-Identifier: MIT
# The public page in a real browser: headless Chromium (Debian package chromium) driven by
# puppeteer-core (npm, installed into the build directory) submits the lookup form and the
# review form as a person would; SHOTS=DIR also writes screenshots there (screenshots.sh).
. "$(dirname "$0")/../lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIP: no $CHROMIUM (apt-get install chromium; tests/deps.txt)"; exit 77; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node and npm are needed"; exit 77; }
NPM_DIR=$B/npm
if [ ! -d "$NPM_DIR/node_modules/puppeteer-core" ]; then
    mkdir -p "$NPM_DIR"
    (cd "$NPM_DIR" && npm install --no-audit --no-fund --silent puppeteer-core >"$T/npm.log" 2>&1) || {
        echo "SKIP: npm install puppeteer-core failed (no registry?): $(tail -n 3 "$T/npm.log")"
        exit 77
    }
fi
"$CHROMIUM" --headless --no-sandbox --disable-gpu --dump-dom about:blank >"$T/probe.out" 2>&1 ||
    { echo "SKIP: $CHROMIUM cannot run here: $(tail -n 3 "$T/probe.out")"; exit 77; }

alloc_port PUB_PORT
PUB_URL=http://127.0.0.1:$PUB_PORT
write_master_conf "public|listen = 127.0.0.1:$PUB_PORT"
start_master
api POST /v1/reports '[{"ip":"203.0.113.25","source":"spamtrap"}]'
expect 200 .listed 1

NODE_PATH=$NPM_DIR/node_modules CHROMIUM=$CHROMIUM \
    timeout "$(scaled_int 90)" node "$(dirname "$0")/browser.js" "$PUB_URL" 203.0.113.25 ${SHOTS:-} \
    >"$T/browser.json" 2>"$T/browser.err" || fail "the browser run failed: $(tail -n 5 "$T/browser.err")"
r=$T/browser.json
jq -e '.status == "203.0.113.25 is listed" and (.ttd | test("^in about 2[34] hours$")) and
       .reason != null and .styled == "6px"' "$r" >/dev/null || fail "lookup as shown: $(cat "$r")"
jq -e '.lookup_url | endswith("/?ip=203.0.113.25")' "$r" >/dev/null || fail "lookup URL: $(cat "$r")"
jq -e '.form_ip == "203.0.113.25" and (.filed | test("^Request [0-9]+: new$"))' "$r" >/dev/null ||
    fail "review form: $(cat "$r")"
jq -e '.state == "new" and .req_ip == "203.0.113.25"' "$r" >/dev/null || fail "request page: $(cat "$r")"
jq -e '.console_errors == []' "$r" >/dev/null || fail "console errors (CSP?): $(jq -c .console_errors "$r")"
ID=$(jq -r '.filed | capture("Request (?<n>[0-9]+)").n' "$r")
api GET "/v1/reviews/$ID"
expect 200 .review.category user-error .review.email abuse@example.net \
    .review.reason 'A subscriber reported our confirmed newsletter <b>as spam</b>.'
ok "Chromium: lookup form shows listed and '$(jq -r .ttd "$r")'; review form filed request $ID (user-error) and its page shows it; no console errors under the CSP"
[ -z "${SHOTS:-}" ] || ok "screenshots in $SHOTS: $(cd "$SHOTS" && ls public-*.png | tr '\n' ' ')"
finish
