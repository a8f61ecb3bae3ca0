#include "formats/pickle.h"

#include <gtest/gtest.h>

#include <numbers>
#include <string>

#include "testing/ckpt_fixtures.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using testing::PickleBytes;

UnpickleOptions TorchOptions() {
  UnpickleOptions o;
  o.allowed_globals = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                       "torch.FloatStorage"};
  return o;
}

Result<PickleGraph> UnpickleForTest(const std::string& bytes, const UnpickleOptions& o = TorchOptions()) {
  return Unpickle(bytes, o, "test.pkl");
}

TEST(PickleTest, ScalarsAndContainers) {
  PickleBytes p;
  p.Proto(2).Op('}').Put(0).Op('(');
  p.Str("int").Int(7).Str("neg").Int(-5).Str("big").Int(int64_t{1} << 40);
  p.Str("i2").Int(300).Str("i4").Int(100000);
  p.Str("float").Op('G').Raw(std::string("\x40\x09\x21\xfb\x54\x44\x2d\x18", 8));  // pi
  p.Str("t").Op(0x88).Str("f").Op(0x89).Str("n").Op('N');
  p.Str("bytes").Op('C').Raw(std::string("\x03" "abc", 4));
  p.Str("list").Op(']').Op('(').Int(1).Int(2).Op('e').Int(3).Op('a');
  p.Str("tuple").Int(1).Int(2).Op(0x86);
  p.Str("empty").Op(')');
  p.Str("again").Get(0);  // the dict itself: a cycle
  p.Op('u').Stop();
  auto g = UnpickleForTest(p.bytes());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  const PickleRef root = g->root();
  ASSERT_EQ(g->at(root).kind, PickleKind::kDict);
  auto get = [&](const char* k) -> const PickleValue& {
    const PickleRef r = g->DictGet(root, k);
    EXPECT_NE(r, kNoPickleRef) << k;
    return g->at(r);
  };
  EXPECT_EQ(get("int").int_value, 7);
  EXPECT_EQ(get("neg").int_value, -5);
  EXPECT_EQ(get("big").int_value, int64_t{1} << 40);
  EXPECT_EQ(get("i2").int_value, 300);
  EXPECT_EQ(get("i4").int_value, 100000);
  EXPECT_DOUBLE_EQ(get("float").float_value, std::numbers::pi);
  EXPECT_EQ(get("t").kind, PickleKind::kBool);
  EXPECT_EQ(get("t").int_value, 1);
  EXPECT_EQ(get("f").int_value, 0);
  EXPECT_EQ(get("n").kind, PickleKind::kNone);
  EXPECT_EQ(get("bytes").kind, PickleKind::kBytes);
  EXPECT_EQ(get("bytes").text, "abc");
  const PickleValue& list = get("list");
  ASSERT_EQ(list.items.size(), 3u);
  EXPECT_EQ(g->at(list.items[2]).int_value, 3);
  EXPECT_EQ(get("tuple").items.size(), 2u);
  EXPECT_EQ(get("empty").kind, PickleKind::kTuple);
  EXPECT_EQ(g->DictGet(root, "again"), root);
  EXPECT_EQ(g->DictGet(root, "missing"), kNoPickleRef);
}

TEST(PickleTest, Protocol4FramesMemoizeAndStackGlobal) {
  PickleBytes p;
  p.Proto(4).Op(0x95).Raw(std::string(8, '\0'));  // FRAME (length unused)
  p.ShortStr("collections").Op(0x94).ShortStr("OrderedDict").Op(0x94).Op(0x93).Op(0x94);
  p.Op(')').Op('R').Op(0x94);
  p.ShortStr("k").Op(0x94).Op(0x8a).Raw(std::string("\x02\x00\xff", 3));  // LONG1 -256
  p.Op('s').Get(2).Op(')').Op('R').Op(0x86).Stop();
  auto g = UnpickleForTest(p.bytes());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  const PickleValue& root = g->at(g->root());
  ASSERT_EQ(root.kind, PickleKind::kTuple);
  ASSERT_EQ(root.items.size(), 2u);
  const PickleRef od = root.items[0];
  EXPECT_EQ(g->at(od).kind, PickleKind::kDict);  // OrderedDict() -> dict
  EXPECT_EQ(g->at(g->DictGet(od, "k")).int_value, -256);
  EXPECT_EQ(g->at(root.items[1]).kind, PickleKind::kDict);
  EXPECT_NE(root.items[1], od);  // a second OrderedDict, not the memoized one
}

TEST(PickleTest, ReduceAndPersistentIdAreInertValues) {
  PickleBytes p;
  p.Proto(2).Global("torch._utils", "_rebuild_tensor_v2").Op('(');
  p.Op('(').Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(6).Op('t')
      .Op('Q');
  p.Int(0).Int(2).Int(3).Op(0x86).Int(3).Int(1).Op(0x86).Op(0x89);
  p.Global("collections", "OrderedDict").Op(')').Op('R').Op('t').Op('R');
  p.Op('}').Op('b');  // BUILD with a (dict) state on the call
  p.Stop();
  auto g = UnpickleForTest(p.bytes());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  const PickleValue& call = g->at(g->root());
  ASSERT_EQ(call.kind, PickleKind::kCall);
  EXPECT_EQ(g->at(call.items[0]).text, "torch._utils._rebuild_tensor_v2");
  const PickleValue& args = g->at(call.items[1]);
  ASSERT_EQ(args.items.size(), 6u);
  const PickleValue& pid = g->at(args.items[0]);
  ASSERT_EQ(pid.kind, PickleKind::kPersistentId);
  const PickleValue& tuple = g->at(pid.items[0]);
  ASSERT_EQ(tuple.items.size(), 5u);
  EXPECT_EQ(g->at(tuple.items[1]).text, "torch.FloatStorage");
  EXPECT_NE(call.state, kNoPickleRef);
}

void ExpectSecurityError(const std::string& bytes, const std::string& global) {
  auto g = UnpickleForTest(bytes);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kSecurity) << g.status().ToString();
  EXPECT_NE(g.status().message().find("pickle global '" + global + "' is not allowed"),
            std::string::npos)
      << g.status().message();
}

TEST(PickleTest, RefusesEveryOtherGlobal) {
  ExpectSecurityError(
      PickleBytes().Proto(2).Global("os", "system").Str("echo pwned").Op(0x85).Op('R').Stop().bytes(),
      "os.system");
  ExpectSecurityError(
      PickleBytes().Proto(2).Global("posix", "system").Str("id").Op(0x85).Op('R').Stop().bytes(),
      "posix.system");
  ExpectSecurityError(PickleBytes().Proto(4).ShortStr("builtins").ShortStr("eval").Op(0x93)
                          .ShortStr("1+1").Op(0x85).Op('R').Stop().bytes(),
                      "builtins.eval");
  ExpectSecurityError(PickleBytes().Proto(2).Global("subprocess", "Popen").Op(']').Op(0x85)
                          .Op('R').Stop().bytes(),
                      "subprocess.Popen");
  // Near misses of allowed names are refused too.
  ExpectSecurityError(PickleBytes().Proto(2).Global("torch._utils", "_rebuild_tensor").Stop().bytes(),
                      "torch._utils._rebuild_tensor");
  ExpectSecurityError(PickleBytes().Proto(2).Global("collections", "OrderedDict ").Stop().bytes(),
                      "collections.OrderedDict ");
  // Non-printable names are escaped in the message.
  auto g = UnpickleForTest(PickleBytes().Proto(2).Global("a\x01", "b").Stop().bytes());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("a\\x01.b"), std::string::npos) << g.status().message();
}

TEST(PickleTest, UnknownOpcodeNamesItAndItsOffset) {
  auto g = UnpickleForTest(PickleBytes().Proto(2).Op('N').Op(0xfe).Stop().bytes());
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kCorruptData);
  EXPECT_NE(g.status().message().find("unknown pickle opcode 0xfe at offset 3"), std::string::npos)
      << g.status().message();
  // Known but unsupported opcodes (INST, EXT1, protocol 0 text) are named as such.
  auto inst = UnpickleForTest(PickleBytes().Proto(2).Op('i').Raw("os\nsystem\n").Stop().bytes());
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(inst.status().message().find("INST"), std::string::npos);
  auto proto = UnpickleForTest(PickleBytes().Proto(6).Op('N').Stop().bytes());
  EXPECT_EQ(proto.status().code(), StatusCode::kUnsupported);
}

TEST(PickleTest, EveryTruncationIsAnError) {
  PickleBytes p;
  p.Proto(2).Op('}').Op('(').Str("a").Int(100000).Str("b").Op(0x8a).Raw("\x01\x05");
  p.Str("c").Op('G').Raw(std::string(8, '\x01')).Str("d").Op(0x8d).Raw(std::string("\x02\0\0\0\0\0\0\0hi", 10));
  p.Op('u').Stop();
  ASSERT_TRUE(UnpickleForTest(p.bytes()).ok());
  for (size_t n = 0; n < p.bytes().size(); ++n) {
    auto g = UnpickleForTest(p.bytes().substr(0, n));
    EXPECT_FALSE(g.ok()) << n;
    EXPECT_EQ(g.status().code(), StatusCode::kCorruptData) << n << ": " << g.status().ToString();
  }
}

TEST(PickleTest, MalformedStacksAreErrors) {
  const std::vector<std::string> bad = {
      PickleBytes().Proto(2).Stop().bytes(),                       // STOP on an empty stack
      PickleBytes().Proto(2).Op('s').Stop().bytes(),               // SETITEM underflow
      PickleBytes().Proto(2).Op('t').Stop().bytes(),               // TUPLE without MARK
      PickleBytes().Proto(2).Op('N').Op('N').Op('a').Stop().bytes(),  // APPEND to None
      PickleBytes().Proto(2).Op('}').Op('(').Op('N').Op('u').Stop().bytes(),  // odd SETITEMS
      PickleBytes().Proto(2).Get(5).Stop().bytes(),                // memo miss
      PickleBytes().Proto(2).Op('N').Op(')').Op('R').Stop().bytes(),  // calling None
      PickleBytes().Proto(2).Global("collections", "OrderedDict").Op('N').Op('R').Stop().bytes(),
      PickleBytes().Proto(2).Op('N').Op('(').Op('a').Stop().bytes(),  // underflow inside a MARK frame
      PickleBytes().Proto(4).Int(1).Int(2).Op(0x93).Stop().bytes(),   // STACK_GLOBAL of ints
      PickleBytes().Proto(2).Int(1).Op('N').Op('b').Stop().bytes(),   // BUILD on an int
      PickleBytes().Proto(2).Op('X').Raw(std::string("\xff\xff\xff\x7f", 4)).Stop().bytes(),
      PickleBytes().Proto(4).Op(0x95).Raw(std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8)).bytes(),
      PickleBytes().Proto(2).Op(0x8a).Raw(std::string("\x09", 1)).Raw(std::string(9, '\x01')).Stop().bytes(),
      PickleBytes().Proto(2).Op('N').bytes(),                     // no STOP
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    auto g = UnpickleForTest(bad[i]);
    EXPECT_FALSE(g.ok()) << "case " << i;
    EXPECT_NE(g.status().message().find("test.pkl"), std::string::npos) << i;
  }
}

TEST(PickleTest, DeepNestingIsBounded) {
  // 100k MARKs.
  auto marks = UnpickleForTest(PickleBytes().Proto(2).Raw(std::string(100000, '(')).Op('N').Stop().bytes());
  ASSERT_FALSE(marks.ok());
  EXPECT_NE(marks.status().message().find("MARKs nested deeper"), std::string::npos);

  // 100k nested 1-tuples.
  PickleBytes t;
  t.Proto(2).Op(')');
  for (int i = 0; i < 100000; ++i) t.Op(0x85);
  auto tuples = UnpickleForTest(t.Stop().bytes());
  ASSERT_FALSE(tuples.ok());
  EXPECT_NE(tuples.status().message().find("nested deeper"), std::string::npos);

  // 100k nested lists through APPEND, and nested dicts through SETITEM.
  PickleBytes l;
  l.Proto(2);
  for (int i = 0; i < 100000; ++i) l.Op(']');
  for (int i = 0; i < 99999; ++i) l.Op('a');
  EXPECT_FALSE(UnpickleForTest(l.Stop().bytes()).ok());
  PickleBytes d;
  d.Proto(2);
  for (int i = 0; i < 100000; ++i) d.Op('}').ShortStr("k");
  d.Op('N');
  for (int i = 0; i < 100000; ++i) d.Op('s');
  EXPECT_FALSE(UnpickleForTest(d.Stop().bytes()).ok());
}

TEST(PickleTest, LimitsOnValuesStackAndMemo) {
  UnpickleOptions o = TorchOptions();
  o.limits.max_stack = 100;
  auto s = UnpickleForTest(PickleBytes().Proto(2).Raw(std::string(200, 'N')).Stop().bytes(), o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("stack deeper"), std::string::npos);

  o = TorchOptions();
  o.limits.max_memo = 10;
  PickleBytes m;
  m.Proto(2).Op('N');
  for (uint32_t i = 0; i < 20; ++i) m.Put(i * 1000);
  auto memo = UnpickleForTest(m.Stop().bytes(), o);
  ASSERT_FALSE(memo.ok());
  EXPECT_NE(memo.status().message().find("memo"), std::string::npos);

  o = TorchOptions();
  o.limits.max_values = 50;
  PickleBytes v;
  v.Proto(2);
  for (int i = 0; i < 100; ++i) v.Int(i).Op('0');
  v.Op('N');
  auto values = UnpickleForTest(v.Stop().bytes(), o);
  ASSERT_FALSE(values.ok());
  EXPECT_NE(values.status().message().find("values"), std::string::npos);
}

TEST(PickleTest, ReadsWhatPythonWritesAtProtocols2To5) {
  if (!testing::HavePython()) GTEST_SKIP() << "/usr/bin/python3 not available";
  testing::TempDir dir;
  for (int proto = 2; proto <= 5; ++proto) {
    const std::string path = dir.File("p" + std::to_string(proto) + ".pkl");
    const std::string script =
        "import pickle, collections\n"
        "od = collections.OrderedDict([('x', 1)])\n"
        "s = 'shared'\n"
        "obj = {'ints': [0, 255, 256, 65535, 65536, -1, -2**31, 2**31, 2**62, -2**63],\n"
        "       'float': -2.5, 'str': 'h\\u00e9llo',\n"
        "       'nested': {'t': (1, (2, (3,))), 'od': od, 'od2': od}, 'a': s, 'b': s,\n"
        "       'none': None, 'long': 'x' * 300}\n"
        "proto = " + std::to_string(proto) + "\n"
        "if proto >= 3: obj['bytes'] = b'\\x00\\x01'  # protocol 2 pickles bytes via _codecs\n"
        "if proto >= 4: obj['set'] = {7}  # protocol < 4 pickles sets via builtins.set\n"
        "open('" + path + "', 'wb').write(pickle.dumps(obj, protocol=" + std::to_string(proto) + "))\n";
    std::string out;
    ASSERT_EQ(testing::RunPython(script, &out), 0) << out;
    const std::string bytes = testing::ReadFileBytes(path);
    auto g = UnpickleForTest(bytes);
    ASSERT_TRUE(g.ok()) << "protocol " << proto << ": " << g.status().ToString();
    const PickleRef root = g->root();
    const PickleValue& ints = g->at(g->DictGet(root, "ints"));
    const std::vector<int64_t> want = {0, 255, 256, 65535, 65536, -1, INT32_MIN,
                                       int64_t{1} << 31, int64_t{1} << 62, INT64_MIN};
    ASSERT_EQ(ints.items.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(g->at(ints.items[i]).int_value, want[i]) << i;
    EXPECT_EQ(g->at(g->DictGet(root, "float")).float_value, -2.5);
    EXPECT_EQ(g->at(g->DictGet(root, "str")).text, "h\xc3\xa9llo");
    if (proto >= 3) {
      EXPECT_EQ(g->at(g->DictGet(root, "bytes")).text, std::string("\x00\x01", 2));
    }
    EXPECT_EQ(g->at(g->DictGet(root, "long")).text, std::string(300, 'x'));
    if (proto >= 4) {
      EXPECT_EQ(g->at(g->DictGet(root, "set")).kind, PickleKind::kSet);
    }
    const PickleRef nested = g->DictGet(root, "nested");
    EXPECT_EQ(g->at(g->DictGet(nested, "t")).depth, 3u);
    EXPECT_EQ(g->DictGet(nested, "od"), g->DictGet(nested, "od2"));  // memo shares it
    EXPECT_EQ(g->at(g->DictGet(g->DictGet(nested, "od"), "x")).int_value, 1);
    EXPECT_EQ(g->DictGet(root, "a"), g->DictGet(root, "b"));
  }
}

}  // namespace
}  // namespace sdr
