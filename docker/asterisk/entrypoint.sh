#!/bin/sh
# Put the AMI secret and the ARI password from the environment into the configuration, then run
# Asterisk in the foreground. Refuses to start without them.
set -eu
: "${AMI_SECRET:?set AMI_SECRET (the gateway's ami_secret)}"
: "${ARI_PASSWORD:?set ARI_PASSWORD (the gateway's ari_password)}"
case "$AMI_SECRET $ARI_PASSWORD" in
  change-me*|*" change-me"*) echo "AMI_SECRET/ARI_PASSWORD: still a change-me placeholder; set real secrets in .env" >&2; exit 2 ;;
esac
case "$AMI_SECRET$ARI_PASSWORD" in
  *[!A-Za-z0-9._~+-]*) echo "AMI_SECRET/ARI_PASSWORD: use letters, digits and . _ ~ + - only" >&2; exit 2 ;;
esac
sed -i "s/^secret = .*/secret = ${AMI_SECRET}/" /etc/asterisk/manager.conf
sed -i "s/^password = change-me-ari$/password = ${ARI_PASSWORD}/" /etc/asterisk/ari.conf
exec "$@"
