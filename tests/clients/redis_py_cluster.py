"""redis-py RedisCluster against slotstore-server, driven by tests/server_clients.rs.

argv: key file (one key per slot, one per line), then the seed ports.
stdin commands, one per line: write | get KEY | load | stop. Each answers one line.
"""
import sys
import threading
import time

from redis.cluster import ClusterNode, RedisCluster


def main():
    keys = open(sys.argv[1]).read().split("\n")
    seeds = [ClusterNode("127.0.0.1", int(p)) for p in sys.argv[2:]]
    try:  # redis-py 5.3+: reads spread over primary and replicas by a strategy
        from redis.cluster import LoadBalancingStrategy

        replicas = {"load_balancing_strategy": LoadBalancingStrategy.ROUND_ROBIN_REPLICAS}
    except ImportError:
        replicas = {"read_from_replicas": True}
    rc = RedisCluster(startup_nodes=seeds, decode_responses=True, **replicas)
    primary = RedisCluster(startup_nodes=seeds, decode_responses=True)
    print("ready", flush=True)
    load = {"stop": False, "acked": 0, "errors": 0, "thread": None}

    def writer():
        n = 0
        while not load["stop"]:
            try:
                rc.set("{load}:%d" % n, n)
                load["acked"] = n + 1
                n += 1
            except Exception as e:  # a failover in progress: retry the same write
                load["errors"] += 1
                sys.stderr.write("redis-py load: %r\n" % (e,))
                time.sleep(0.02)

    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "write":
            for i in range(0, len(keys), 1000):
                pipe = rc.pipeline()
                for k in keys[i : i + 1000]:
                    pipe.set(k, k)
                pipe.execute()
            deadline = time.time() + 10
            for k in keys[::7]:
                while rc.get(k) != k:
                    if time.time() > deadline:
                        print("fail read %s" % k, flush=True)
                        return
                    time.sleep(0.005)
            print("ok write", flush=True)
        elif cmd[0] == "get":
            print("ok %s" % primary.get(cmd[1]), flush=True)
        elif cmd[0] == "load":
            t = threading.Thread(target=writer)
            load["thread"] = t
            t.start()
            print("loading", flush=True)
        elif cmd[0] == "stop":
            load["stop"] = True
            load["thread"].join()
            for n in range(load["acked"]):
                v = primary.get("{load}:%d" % n)
                if v != str(n):
                    print("fail load {load}:%d is %r" % (n, v), flush=True)
                    return
            print("ok load %d %d" % (load["acked"], load["errors"]), flush=True)
            return


main()
