#!/bin/sh
# One HTTP request of the current era's inference server with AUTH_TOKEN set (positronic/offboard/server.py):
# GET /api/v1/models answers 200 only with `Authorization: Bearer $AUTH_TOKEN`, else 401. Run by
# `nc -ll -e` per connection (busybox httpd knows no bearer tokens); the body is in $RT_MODELS_FILE.
read -r request
auth=
cr=$(printf '\r')
while read -r header; do
  header=${header%"$cr"}
  [ -z "$header" ] && break
  case $header in [Aa]uthorization:*) auth=${header#*: } ;; esac
done
case $request in
  "GET /api/v1/models "*|"GET /api/v1/models/ "*) ;;
  *) printf 'HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n'; exit 0 ;;
esac
if [ "$auth" = "Bearer $AUTH_TOKEN" ]; then
  printf 'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n'
  cat "$RT_MODELS_FILE"
else
  printf 'HTTP/1.0 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n{"detail": "Unauthorized"}\n'
fi
