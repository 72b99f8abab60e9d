#!/usr/bin/env bash
# Lays out the container image's root filesystem without pulling any base image:
#   /opt/java              a JRE jlinked from the build's JDK 17 with only the modules meshgate needs
#   /lib, /lib64           the shared libraries that JRE and Netty's native transports load, copied
#                          from the build machine's installed Debian packages (dpkg -L)
#   /bin/sleep             coreutils' sleep, for the Deployment's preStop hook
#   /etc/passwd, /etc/group  the non-root user 65532 ("nonroot", as distroless names it)
#   /opt/meshgate/meshgate.jar, /tmp, /etc/meshgate (mount points)
# Jib (deploy/pom.xml, profile "image") packs this folder as the image's one layer.
#
# Usage: rootfs.sh JAR OUT_DIR     (needs jlink and dpkg; Debian/Ubuntu build machines have both)
set -euo pipefail
jar=$1
out=$2

# Modules: `jdeps --print-module-deps --ignore-missing-deps --multi-release 17 meshgate.jar`, plus
# what jdeps cannot see because it is loaded by name: jdk.crypto.ec (the SunEC provider: EC keys and
# ECDHE), jdk.naming.dns (Netty's resolver asks JNDI for the name servers), java.management and
# jdk.management (JVM metrics), jdk.zipfs.
modules=java.base,java.compiler,java.desktop,java.logging,java.management,java.naming,java.net.http,java.sql,java.xml,jdk.crypto.ec,jdk.jfr,jdk.management,jdk.naming.dns,jdk.unsupported,jdk.zipfs
# Debian packages whose shared libraries the JRE and Netty's natives link against (ldd of
# bin/java, lib/server/libjvm.so, lib/*.so and the netty-*.so in the jar).
packages=(libc6 libgcc-s1 libstdc++6 zlib1g)

java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
rm -rf "$out"
mkdir -p "$out"

# No CDS archive (--generate-cds-archive would make the image depend on the build's timing):
# the JVM starts a few hundred ms slower, and the image is the same bytes on every build.
"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
  --compress=2 --output "$out/opt/java"

for pkg in "${packages[@]}"; do
  # Shared objects only (no gconv modules, docs or locales); symlinks resolved so the layer holds files.
  dpkg -L "$pkg:amd64" 2>/dev/null || dpkg -L "$pkg"
done | grep -E '^/(usr/)?lib(64|/x86_64-linux-gnu)/[^/]+\.so[.0-9]*$' | sort -u | while read -r lib; do
  [ -e "$lib" ] || continue
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done
# ld.so's default search path covers /lib/x86_64-linux-gnu and /usr/lib/x86_64-linux-gnu.
for pkg in "${packages[@]}" coreutils; do
  copyright=/usr/share/doc/$pkg/copyright
  [ -f "$copyright" ] && install -D -m 0644 "$copyright" "$out$copyright"
done
{ for pkg in "${packages[@]}" coreutils; do dpkg-query -W -f='${Package} ${Version}\n' "$pkg"; done
  echo "openjdk $("$java_home/bin/java" -version 2>&1 | sed -n 2p)"; } > "$out/opt/java/DEBIAN-PACKAGES"

install -D -m 0755 "$(readlink -f /bin/sleep)" "$out/bin/sleep"
install -D -m 0644 "$jar" "$out/opt/meshgate/meshgate.jar"
mkdir -p "$out/etc/meshgate/config" "$out/etc/meshgate/identity" "$out/etc/meshgate/trust" "$out/tmp" "$out/proc"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$out/etc/group"
