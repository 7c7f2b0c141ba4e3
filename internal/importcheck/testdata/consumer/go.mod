module example.com/consumer

go 1.25.0

require github.com/homelabctl/homelab v0.0.0

replace github.com/homelabctl/homelab => ../../../..
