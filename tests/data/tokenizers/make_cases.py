#!/usr/bin/env python3
"""Regenerates (with --train) the small SentencePiece models here and cases.json from the SentencePiece
library (Debian: apt-get install python3-sentencepiece; run with /usr/bin/python3 from this
folder). They cover what tests/fixtures/tokenizers does not: WORD and CHAR models, UNUSED
pieces (BPE resegmentation, skipped Unigram nodes), treat_whitespace_as_suffix, a custom
character map, a denormalizer, no dummy prefix / no whitespace squeezing, unk_surface and
renamed special pieces. corpus.txt is any text of a few hundred lines (e.g. the SPEC); the
committed models were trained on SPEC.md, STYLE.md and the fixture texts."""
import json
import os
import random
import sys

import sentencepiece as spm

COMMON = dict(minloglevel=2, hard_vocab_limit=False, normalization_rule_name='identity')
MODELS = {
    'word': dict(model_type='word', vocab_size=400),
    'char': dict(model_type='char', vocab_size=200, user_defined_symbols=['<b>', 'ab'],
                 control_symbols=['<c>'], remove_extra_whitespaces=False),
    'bpe_unused': dict(model_type='bpe', vocab_size=520, byte_fallback=True,
                       character_coverage=0.98, control_symbols=['<ctl>'],
                       user_defined_symbols=['<b>', '<i>', 'xyz', '\u2581the']),
    'uni_unused': dict(model_type='unigram', vocab_size=300, treat_whitespace_as_suffix=True,
                       user_defined_symbols=['<break>', '@@', 'a b'],
                       normalization_rule_name=None, normalization_rule_tsv='norm.tsv',
                       denormalization_rule_tsv='denorm.tsv'),
    'uni_raw': dict(model_type='unigram', vocab_size=500, character_coverage=0.98,
                    add_dummy_prefix=False, remove_extra_whitespaces=False, byte_fallback=True,
                    unk_surface='<?>', pad_id=3, bos_id=-1, eos_piece='<end>',
                    split_digits=True, user_defined_symbols=['1', '12', '123']),
}
NORM_TSV = '41\t61\n42 43\t78 79 7A\nFB01\t66 69\n3000\t20\n2460\t31\n'  # A->a, BC->xyz, ...
DENORM_TSV = '78 79 7A\t42 43\n3F\t21 3F\n'  # xyz->BC, ?->!?
EXTRA_TEXTS = ['ABC xyz? \u3000 <break> a b\u2460', '@@ @@@ a b', '12345 123 1 12 0123',
               'a  b   c ', '<b>ab<c> <i>', '<ctl> <end> <pad>', '\u2581the the there',
               '\ufb01ne \u2460\u2461', 'AAA BBB CCC', 'x\u2581 \u2581y']


def varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7f) << s
        s += 7
        if c < 0x80:
            return r, i


def fields(b):
    i = 0
    while i < len(b):
        k, i = varint(b, i)
        f, w = k >> 3, k & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            n = 8 if w == 1 else 4
            v, i = b[i:i + n], i + n
        yield f, w, v


def put(f, w, v):
    def enc(x):
        out = bytearray()
        while True:
            out.append((x & 0x7f) | (0x80 if x > 0x7f else 0))
            x >>= 7
            if not x:
                return bytes(out)
    return enc(f << 3 | w) + (enc(v) if w == 0 else enc(len(v)) + v if w == 2 else v)


def mark_unused(path, every):
    """Marks every `every`-th normal piece of two or more characters UNUSED."""
    out, k = bytearray(), 0
    for f, w, v in fields(open(path, 'rb').read()):
        if f == 1:
            sub = list(fields(v))
            typ = next((x[2] for x in sub if x[0] == 3), 1)
            piece = next((x[2] for x in sub if x[0] == 1), b'')
            if typ == 1 and len(piece.decode()) >= 2:
                k += 1
                if k % every == 0:
                    sub = [x for x in sub if x[0] != 3] + [(3, 0, 5)]
            v = b''.join(put(*x) for x in sub)
        out += put(f, w, v)
    open(path, 'wb').write(out)


def main():
    if '--train' in sys.argv:  # needs corpus.txt
        open('norm.tsv', 'w').write(NORM_TSV)
        open('denorm.tsv', 'w').write(DENORM_TSV)
        for name, kw in MODELS.items():
            args = dict(COMMON, input='corpus.txt', model_prefix=name, **kw)
            args = {k: v for k, v in args.items() if v is not None}
            spm.SentencePieceTrainer.train(**args)
            os.remove(name + '.vocab')
        os.remove('norm.tsv')
        os.remove('denorm.tsv')
        mark_unused('bpe_unused.model', 5)
        mark_unused('uni_unused.model', 4)
    fixture = json.load(open('../../fixtures/tokenizers/cases.json'))
    texts = [c['text'] for c in fixture['pocket_en.model']['encode']] + EXTRA_TEXTS
    cases = {}
    for name in MODELS:
        sp = spm.SentencePieceProcessor(model_file=name + '.model')
        rng = random.Random(name)
        n = sp.get_piece_size()
        dec = []
        while len(dec) < 20:
            ids = [rng.choice([rng.randrange(n), rng.randrange(6), rng.randrange(min(n, 300))])
                   for _ in range(rng.randint(1, 12))]
            if '\0' not in sp.decode(ids):
                dec.append({'ids': ids, 'decoded': sp.decode(ids)})
        cases[name + '.model'] = {
            'vocab_size': n, 'unk_id': sp.unk_id(), 'bos_id': sp.bos_id(),
            'eos_id': sp.eos_id(), 'pad_id': sp.pad_id(),
            'encode': [{'text': t, 'ids': sp.encode(t), 'pieces': sp.encode(t, out_type=str),
                        'decoded': sp.decode(sp.encode(t))} for t in texts],
            'decode': dec}
    json.dump(cases, open('cases.json', 'w'), ensure_ascii=False, separators=(',', ':'))


main()
