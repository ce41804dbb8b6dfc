// Helpers shared by the example plugins: a small parser for flat JSON objects (the plugin
// configs and the image metadata), and SMC_PLUGIN_CLASS, which turns a C++ class into the
// plugin's descriptor and entry point. Header-only, no dependency beyond the standard
// library and smc/plugin.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smc/plugin.h"

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
      static constexpr std::string_view kEscaped = "\"\\/bfnrt", kMeaning = "\"\\/\b\f\n\r\t";
      if (const size_t k = kEscaped.find(e); k != std::string_view::npos) {
        out->push_back(kMeaning[k]);
        continue;
      }
      if (e != 'u') return fail("bad escape in a string");
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
      if (!eat(close)) {
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

// The config given to create() as a JSON object, or nullopt with *error saying why not.
inline std::optional<JsonObject> parse_config(const char* config_json, std::string* error) {
  std::string e;
  auto cfg = FlatJsonParser::parse(config_json, &e);
  if (!cfg) *error = "config is not a JSON object: " + e;
  return cfg;
}

// One outgoing message of a known size, written in place: inside the ring (reserve/commit)
// when it fits one record, otherwise into `buffer`, then sent with the copying send(), which
// fragments it. For one message at a time, on the thread that calls begin().
class OutgoingMessage {
 public:
  OutgoingMessage(const smc_host* host, std::vector<uint8_t>* buffer)
      : host_(host), buffer_(buffer) {}
  // `size` writable bytes, or nullptr with *status (may be null) set to the reason.
  uint8_t* begin(size_t size, uint32_t timeout_ms, int32_t* status) {
    size_ = size;
    timeout_ms_ = timeout_ms;
    in_place_ = size <= host_->max_reserve(host_);
    if (in_place_) return static_cast<uint8_t*>(host_->reserve(host_, size, timeout_ms, status));
    buffer_->resize(size);
    return buffer_->data();
  }
  int32_t send() {
    return in_place_ ? host_->commit(host_, size_)
                     : host_->send(host_, buffer_->data(), size_, timeout_ms_);
  }
  void abort() {
    if (in_place_) host_->abort(host_);
  }

 private:
  const smc_host* host_;
  std::vector<uint8_t>* buffer_;
  size_t size_ = 0;
  uint32_t timeout_ms_ = 0;
  bool in_place_ = false;
};

// The C ABI of a plugin written as a class T with
//   static constexpr const char* kName, kVersion;
//   static std::unique_ptr<T> create(const smc_host*, const char* config_json,
//                                    std::string* error);  // nullptr + *error on failure
//   void on_message(const uint8_t* data, size_t len);
//   ~T();  // destroy(): stops and joins the plugin's threads (rule 4 of smc/plugin.h)
// No exception crosses the C boundary: one thrown by create() becomes its error message.
template <class T>
struct PluginAbi {
  static void* create(const smc_host* host, const char* config_json, char* err, size_t err_len) {
    std::string e;
    try {
      if (std::unique_ptr<T> p = T::create(host, config_json, &e)) return p.release();
    } catch (const std::bad_alloc&) {
      e = "out of memory";
    } catch (const std::exception& x) {
      e = x.what();
    }
    set_error(err, err_len, e);
    return nullptr;
  }
  static void on_message(void* instance, const uint8_t* data, size_t len) {
    static_cast<T*>(instance)->on_message(data, len);
  }
  static void destroy(void* instance) { delete static_cast<T*>(instance); }

  static constexpr smc_plugin_descriptor kDescriptor = {
      SMC_PLUGIN_ABI_VERSION,
      sizeof(smc_plugin_descriptor),
      T::kName,
      T::kVersion,
      create,
      on_message,
      nullptr,
      0,
      destroy,
  };
};

}  // namespace smc_plugin

// Defines the plugin's one exported symbol, smc_plugin_entry, for the class T (PluginAbi).
#define SMC_PLUGIN_CLASS(T)                                                          \
  extern "C" SMC_PLUGIN_EXPORT const smc_plugin_descriptor* smc_plugin_entry(void) { \
    return &::smc_plugin::PluginAbi<T>::kDescriptor;                                 \
  }
