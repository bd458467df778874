# SPDX-License-Identifier: MIT
# Regenerates the screenshots of the public page in docs/images (the lookup result, the review
# form, a request's page) with the browser test: bash tests/public/screenshots.sh [BUILD_DIR]
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$src/docs/images"
SHOTS=$src/docs/images BL_BUILD=${1:-$src/build} BL_SRC=$src bash "$src/tests/public/browser.sh"
