printf "{\"acquired\":1,\"env\":\"dev\",\"expires\":2,\"holder\":\"kite apply\",\"host\":\"gone\",\"kite_lock\":1,\"nonce\":\"00\",\"pid\":1,\"released\":false}\n" > meta/leases/dev
