#!/bin/sh
# Like nginx with a static upstream: resolve "app" once at start, then keep using that address.
until nslookup app > /tmp/ns 2>/dev/null; do sleep 0.1; done
ip=$(sed -n 's/^Address:[[:space:]]*\([0-9.]*\).*/\1/p' /tmp/ns | tail -n 1)
echo "$ip" > /tmp/app-ip
mkdir -p /www/cgi-bin
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nexec timeout 3 wget -qO- http://%s/\n' "$ip" > /www/cgi-bin/app
chmod +x /www/cgi-bin/app
exec httpd -f -p 8080 -h /www
