# Native wake-up latency on this machine, without Chromium: sleep 1 ms in a loop and
# record every oversleep over 0.5 ms (how late, when). run.mjs runs it as the
# 'native' candidate, to tell the machine's hiccups from the browser's.
#   python3 oversleep.py [seconds=10]      (prints JSON)
import json, sys, time
secs = float(sys.argv[1]) if len(sys.argv) > 1 else 10
t0 = last = time.perf_counter()
n, late = 0, []
while last - t0 < secs:
    time.sleep(0.001)
    now = time.perf_counter()
    n += 1
    over = (now - last) * 1000 - 1
    if over > 0.5:
        late.append([round((now - t0) * 1000, 2), round(over, 3)])
    last = now
print(json.dumps({"sleeps": n, "secs": secs, "late": late}))
