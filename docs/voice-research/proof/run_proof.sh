#!/bin/sh
# usage: ./run_proof.sh [extra voice_server.py args, e.g. --no-level-patch --no-record]
cd /tmp/voiceproof
/tmp/vtest/bin/python voice_server.py --seconds 8 "$@" > server.log 2>&1 &
SERVER=$!
sleep 2
timeout 90 /work/main/.venv/bin/python browser_driver.py > driver.log 2>&1
echo "driver rc=$?"
wait $SERVER
/tmp/vtest/bin/python -c "
import json; r=json.load(open('results.json')); b=json.load(open('browser_result.json'))
print('browser timings(ms):', b['timings']); print('chromium cpu %:', b['driver']['chromium_cpu_pct_during_session'])
for k in ('level_patch','record','server_offer_to_answer_ms','server_offer_to_connected_ms','server_offer_to_first_inbound_frame_ms','server_cpu_pct_one_call','server_total_cpu_s','server_maxrss_mb','inbound_overall_peak_hz','dtmf_via_ws'): print(k, r.get(k))
print('browser peaks:', sorted(set((m['playing'], m['peak_hz']) for m in b['measures'])))
print('canInsertDTMF:', b['browser_info']['canInsertDTMF'])
for k in ('recording_call.wav','recording_call.ogg'): print(k, r.get(k))
"
