"""What was tried on a model: story start token, neutral variance removed, 10 vs 12 stories per emotion.

Prints implicit-scenario top-3 and mean sweep rho per layer from the build cache (run a build first).
Usage: .venv/bin/python tools/method_sweep.py MODEL
"""
import glob
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import corpus, load_model
from core.build import STARTS, emotion_directions, neutral_pcs, _story_key
from core.paths import cache_dir
from core.probe import forward
from core.transcript import Turn

name = sys.argv[1] if len(sys.argv) > 1 else "smollm2-135m-instruct"
lm = load_model(name)
work=glob.glob(str(cache_dir() / 'build' / f'{name}*'))[0]
sm=load_file(work+'/story_means.safetensors'); nm=[load_file(f) for f in glob.glob(work+'/neutral_moments-*')][0]
stories=corpus.load_stories(); em=list(corpus.emotions())
where={bytes(k):j for j,k in enumerate(sm['keys'])}
idx=[where[_story_key(s.text)] for s in stories]
means=sm['means'][:,idx]; labels=np.array([em.index(s.emotion) for s in stories])
# first 10 stories per emotion (in file order) = the corpus before the extension to 12
seen={}; first10=[]
for i,s in enumerate(stories):
    seen[s.emotion]=seen.get(s.emotion,0)+1
    if seen[s.emotion]<=10: first10.append(i)
first10=np.array(first10)
vs=corpus.load_validation(); L=lm.n_layers
layers=[l for l in range(L//3, L) if l%2==0]
def feats(text):
    fw=forward(lm,[Turn('user',text)],layers); u=fw.turns[0]
    return np.stack([fw.hidden[l][u.reply_start:u.end].mean(0) for l in layers])
imp=[feats(x['text']) for x in vs.implicit]
sw=[[feats(s['template'].replace('{X}',str(v))) for v in s['values']] for s in vs.sweeps]
si=[em.index(e) for e in sorted({x['emotion'] for x in vs.implicit})]
mean=nm['mean'].astype(np.float64); cov=nm['cov'].astype(np.float64)
print("stories start var layer top3 rho")
for subset,sel in (("12",np.arange(len(stories))),("10",first10)):
  for start in range(3):
    for var in [0.0, 0.25, 0.5]:
      for li,l in enumerate(layers):
        pcs=neutral_pcs(cov[l],var)[0] if var>0 else np.zeros((0,lm.d_model))
        v=emotion_directions(means[start,sel,l].astype(np.float64),labels[sel],171,pcs)
        bm=v@mean[l]; bs=np.sqrt(np.einsum('ed,df,ef->e',v,cov[l],v))
        zs=[(f[li]@v.T-bm)/bs for f in imp]
        top3=np.mean([(z[si]>z[em.index(x['emotion'])]).sum()<3 for z,x in zip(zs,vs.implicit)])
        rhos=[]
        for s,fs in zip(vs.sweeps,sw):
            z=np.array([(f[li]@v.T-bm)/bs for f in fs])
            for d,names in ((1,s.get('rising',[])),(-1,s.get('falling',[]))):
                for n in names:
                    r=spearmanr(s['values'],z[:,em.index(n)]).statistic
                    rhos.append((0 if np.isnan(r) else r)*d)
        print(subset, STARTS[start], var, l, f"{top3:.2f}", f"{np.mean(rhos):+.2f}", flush=True)
