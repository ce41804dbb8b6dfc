// Helpers shared by the example plugins: a small parser for flat JSON objects (the plugin
// configs and the image metadata) and error reporting into create()'s buffer. Header-only,
// no dependency beyond the standard library.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace smc_plugin {

struct JsonValue {
  enum Kind { kString, kNumber, kBoolean, kNull, kNested } kind = kNull;
  std::string text;  // kString: the decoded string; kNested: the raw JSON of the value
  double number = 0;
  bool boolean = false;
};

using JsonObject = std::map<std::string, JsonValue, std::less<>>;

// Parses one JSON object whose values are strings, numbers, booleans or null. Nested
// objects and arrays are accepted and kept as raw text (kind kNested). Duplicate keys: the
// last wins. Returns nullopt and sets *error (with the byte offset) on malformed input.
class FlatJsonParser {
 public:
  static std::optional<JsonObject> parse(std::string_view in, std::string* error) {
    FlatJsonParser p(in);
    JsonObject out;
    if (!p.object(&out)) {
      if (error) *error = p.error_ + " at offset " + std::to_string(p.pos_);
      return std::nullopt;
    }
    return out;
  }

 private:
  explicit FlatJsonParser(std::string_view in) : s_(in) {}

  bool fail(const char* what) {
    if (error_.empty()) error_ = what;
    return false;
  }
  void ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool eat(char c) {
    ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool object(JsonObject* out) {
    if (!eat('{')) return fail("expected '{'");
    if (eat('}')) return end();
    for (;;) {
      ws();
      std::string key;
      if (!string(&key)) return false;
      if (!eat(':')) return fail("expected ':'");
      JsonValue v;
      if (!value(&v, 0)) return false;
      (*out)[key] = std::move(v);
      if (eat(',')) continue;
      if (eat('}')) return end();
      return fail("expected ',' or '}'");
    }
  }
  bool end() {
    ws();
    return pos_ == s_.size() ? true : fail("unexpected text after the object");
  }
  static void utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool hex4(uint32_t* cp) {
    if (pos_ + 4 > s_.size()) return fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return fail("bad hex digit in \\u escape");
      }
    }
    *cp = v;
    return true;
  }
  bool string(std::string* out) {
    if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a string");
    ++pos_;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF && pos_ + 1 < s_.size() && s_[pos_] == '\\' &&
              s_[pos_ + 1] == 'u') {
            pos_ += 2;
            uint32_t lo = 0;
            if (!hex4(&lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            return fail("unpaired surrogate");
          }
          utf8(cp, out);
          break;
        }
        default:
          return fail("bad escape in a string");
      }
    }
    return fail("unterminated string");
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.substr(pos_, n) != word) return fail("unexpected character");
    pos_ += n;
    return true;
  }
  bool number(double* out) {
    const size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      const size_t b = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > b;
    };
    if (!digits()) return fail("bad number");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digits()) return fail("bad number");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return fail("bad number");
    }
    const std::string text(s_.substr(start, pos_ - start));
    *out = std::strtod(text.c_str(), nullptr);
    return true;
  }
  bool value(JsonValue* v, int depth) {
    if (depth > 64) return fail("nested too deeply");
    ws();
    if (pos_ >= s_.size()) return fail("expected a value");
    const char c = s_[pos_];
    if (c == '"') {
      v->kind = JsonValue::kString;
      return string(&v->text);
    }
    if (c == 't' || c == 'f') {
      v->kind = JsonValue::kBoolean;
      v->boolean = c == 't';
      return literal(c == 't' ? "true" : "false");
    }
    if (c == 'n') {
      v->kind = JsonValue::kNull;
      return literal("null");
    }
    if (c == '{' || c == '[') {
      // Kept raw: validate its structure by walking it.
      const size_t start = pos_;
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      if (eat(close)) {
        v->kind = JsonValue::kNested;
        v->text = std::string(s_.substr(start, pos_ - start));
        return true;
      }
      for (;;) {
        if (c == '{') {
          ws();
          std::string k;
          if (!string(&k)) return false;
          if (!eat(':')) return fail("expected ':'");
        }
        JsonValue inner;
        if (!value(&inner, depth + 1)) return false;
        if (eat(',')) continue;
        if (eat(close)) break;
        return fail("expected ',' or a closing bracket");
      }
      v->kind = JsonValue::kNested;
      v->text = std::string(s_.substr(start, pos_ - start));
      return true;
    }
    v->kind = JsonValue::kNumber;
    return number(&v->number);
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

// Reads an integer in [min, max] (absent: `def`). False with *error naming `what.key`.
inline bool get_uint(const JsonObject& o, const char* what, const char* key, uint64_t def,
                     uint64_t min, uint64_t max, uint64_t* out, std::string* error) {
  auto it = o.find(key);
  if (it == o.end() || it->second.kind == JsonValue::kNull) {
    *out = def;
    return true;
  }
  const JsonValue& v = it->second;
  if (v.kind != JsonValue::kNumber || v.number != std::floor(v.number) ||
      v.number < static_cast<double>(min) || v.number > static_cast<double>(max)) {
    *error = std::string(what) + "." + key + " must be an integer from " + std::to_string(min) +
             " to " + std::to_string(max);
    return false;
  }
  *out = static_cast<uint64_t>(v.number);
  return true;
}

inline std::string get_string(const JsonObject& o, const char* key, const std::string& def) {
  auto it = o.find(key);
  return it != o.end() && it->second.kind == JsonValue::kString ? it->second.text : def;
}

// Writes `msg` NUL-terminated into create()'s error buffer.
inline void set_error(char* buf, size_t len, const std::string& msg) {
  if (!buf || len == 0) return;
  const size_t n = msg.size() < len - 1 ? msg.size() : len - 1;
  std::memcpy(buf, msg.data(), n);
  buf[n] = '\0';
}

// JSON string literal of `s` (quotes included).
inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
      out += b;
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace smc_plugin
