#include "checks/nginx_conf.h"

#include <fnmatch.h>
#include <glob.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <memory>

namespace gatewatch {

std::string NginxConfError::Text() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ": " + message;
}

namespace {

// ngx_conf_read_token's states, as a small recursive-descent reader over one file's text. The
// recursion is bounded by limits.max_depth.
class Reader {
 public:
  Reader(std::string_view text, const std::string& file, const NginxConfLimits& limits,
         size_t* counted)
      : text_(text), file_(file), limits_(limits), counted_(counted) {}

  NginxConfParse Run() {
    NginxConfParse out;
    ReadBlock(out.directives, 0, 0);
    out.error = std::move(error_);
    return out;
  }

 private:
  enum class Token { kWord, kSemicolon, kOpen, kClose, kEnd, kError };

  bool Fail(std::string message, int line = -1) {
    if (!error_) error_ = NginxConfError{file_, line < 0 ? line_ : line, std::move(message)};
    return false;
  }

  // Reads one directive's words up to `;`, `{` or `}` / end.
  Token Next(std::string* word) {
    // Skip space and comments.
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
    if (pos_ >= text_.size()) return Token::kEnd;
    char c = text_[pos_];
    if (c == ';') {
      ++pos_;
      return Token::kSemicolon;
    }
    if (c == '{') {
      ++pos_;
      return Token::kOpen;
    }
    if (c == '}') {
      ++pos_;
      return Token::kClose;
    }
    word->clear();
    if (c == '"' || c == '\'') {
      char quote = c;
      int start_line = line_;
      ++pos_;
      while (true) {
        if (pos_ >= text_.size()) {
          Fail("unexpected end of file in a quoted string", start_line);
          return Token::kError;
        }
        char d = text_[pos_++];
        if (d == '\n') ++line_;
        if (d == quote) break;
        if (d == '\\' && pos_ < text_.size()) {
          AppendEscape(text_[pos_++], word);
        } else {
          word->push_back(d);
        }
        if (word->size() > limits_.max_token_bytes) {
          Fail("token longer than " + std::to_string(limits_.max_token_bytes) + " bytes");
          return Token::kError;
        }
      }
      // nginx wants a separator after a closing quote.
      if (pos_ < text_.size()) {
        char n = text_[pos_];
        if (n != ' ' && n != '\t' && n != '\r' && n != '\n' && n != ';' && n != '{' && n != ')') {
          Fail(std::string("unexpected \"") + n + "\"");
          return Token::kError;
        }
      }
      return Token::kWord;
    }
    // An unquoted word ends at space, `;` or `{` (a `}` inside a word belongs to it, as in nginx,
    // except that `${` opens a variable name that `}` closes).
    bool variable = false;
    while (pos_ < text_.size()) {
      char d = text_[pos_];
      if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || d == ';') break;
      if (d == '{' && !variable) break;
      variable = d == '$';
      ++pos_;
      if (d == '\\' && pos_ < text_.size()) {
        if (text_[pos_] == '\n') ++line_;
        AppendEscape(text_[pos_++], word);
      } else {
        word->push_back(d);
      }
      if (word->size() > limits_.max_token_bytes) {
        Fail("token longer than " + std::to_string(limits_.max_token_bytes) + " bytes");
        return Token::kError;
      }
    }
    return Token::kWord;
  }

  static void AppendEscape(char c, std::string* word) {
    switch (c) {
      case '"':
      case '\'':
      case '\\':
        word->push_back(c);
        break;
      case 't':
        word->push_back('\t');
        break;
      case 'r':
        word->push_back('\r');
        break;
      case 'n':
        word->push_back('\n');
        break;
      default:
        word->push_back('\\');
        word->push_back(c);
    }
  }

  // Reads directives until the block's `}` (depth > 0) or the end of the text (depth 0).
  // Returns false on an error (error_ set).
  bool ReadBlock(std::vector<NginxDirective>& out, size_t depth, int open_line) {
    if (depth > limits_.max_depth) {
      return Fail("blocks nested deeper than " + std::to_string(limits_.max_depth));
    }
    std::string word;
    while (true) {
      NginxDirective d;
      int first_line = -1;
      Token t;
      while ((t = Next(&word)) == Token::kWord) {
        if (first_line < 0) {
          first_line = line_;
          d.name = word;
        } else {
          if (d.args.size() >= limits_.max_args) {
            return Fail("more than " + std::to_string(limits_.max_args) + " arguments");
          }
          d.args.push_back(word);
        }
      }
      if (t == Token::kError) return false;
      bool empty = first_line < 0;
      switch (t) {
        case Token::kEnd:
          if (!empty) return Fail("unexpected end of file, expecting \";\" or \"}\"");
          if (depth > 0) {
            return Fail("unexpected end of file, expecting \"}\" (block opened on line " +
                        std::to_string(open_line) + ")");
          }
          return true;
        case Token::kClose:
          if (!empty) return Fail("unexpected \"}\"");
          if (depth == 0) return Fail("unexpected \"}\"");
          return true;
        case Token::kSemicolon:
          if (empty) return Fail("unexpected \";\"");
          break;
        case Token::kOpen:
          if (empty) return Fail("unexpected \"{\"");
          d.block = true;
          break;
        default:
          break;
      }
      if (counted_ != nullptr && ++*counted_ > limits_.max_directives) {
        return Fail("more than " + std::to_string(limits_.max_directives) + " directives");
      }
      d.file = file_;
      d.line = first_line;
      if (d.block && !ReadBlock(d.children, depth + 1, first_line)) {
        out.push_back(std::move(d));
        return false;
      }
      out.push_back(std::move(d));
    }
  }

  std::string_view text_;
  const std::string& file_;
  const NginxConfLimits& limits_;
  size_t* counted_;
  size_t pos_ = 0;
  int line_ = 1;
  std::optional<NginxConfError> error_;
};

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool HasGlob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

class Loader {
 public:
  Loader(const NginxConfFiles& files, const NginxConfLimits& limits, std::string conf_dir)
      : files_(files), limits_(limits), conf_dir_(std::move(conf_dir)) {}

  // Reads `path` into `out`; false on an error (error_ set). `from` is the include directive.
  bool LoadFile(const std::string& path, size_t include_depth, const NginxDirective* from,
                std::vector<NginxDirective>& out) {
    auto fail = [&](std::string message) {
      if (from != nullptr) {
        error_ = NginxConfError{from->file, from->line, std::move(message)};
      } else {
        error_ = NginxConfError{path, 0, std::move(message)};
      }
      return false;
    };
    if (include_depth > limits_.max_include_depth) {
      return fail("includes nested deeper than " + std::to_string(limits_.max_include_depth));
    }
    if (++files_read_ > limits_.max_files) {
      return fail("more than " + std::to_string(limits_.max_files) + " files included");
    }
    std::string read_error;
    std::optional<std::string> text = files_.read ? files_.read(path, &read_error) : std::nullopt;
    if (!text) return fail("cannot read " + path + (read_error.empty() ? "" : ": " + read_error));
    bytes_ += text->size();
    if (bytes_ > limits_.max_bytes) {
      return fail("configuration larger than " + std::to_string(limits_.max_bytes) + " bytes");
    }
    NginxConfParse parsed = ParseNginxConf(*text, path, limits_, &directives_);
    if (parsed.error) {
      error_ = parsed.error;
      return false;
    }
    return Expand(parsed.directives, include_depth, out);
  }

  bool Expand(std::vector<NginxDirective>& in, size_t include_depth,
              std::vector<NginxDirective>& out) {
    for (NginxDirective& d : in) {
      if (d.name == "include" && !d.block) {
        if (d.args.size() != 1) {
          error_ = NginxConfError{d.file, d.line, "include takes one argument"};
          return false;
        }
        std::string pattern = d.args[0];
        if (pattern.empty() || pattern[0] != '/') pattern = conf_dir_ + "/" + pattern;
        if (HasGlob(pattern)) {
          std::vector<std::string> paths =
              files_.glob ? files_.glob(pattern) : std::vector<std::string>{};
          for (const std::string& p : paths) {
            if (!LoadFile(p, include_depth + 1, &d, out)) return false;
          }
        } else if (!LoadFile(pattern, include_depth + 1, &d, out)) {
          return false;
        }
        continue;
      }
      std::vector<NginxDirective> children;
      if (!Expand(d.children, include_depth, children)) return false;
      d.children = std::move(children);
      out.push_back(std::move(d));
    }
    return true;
  }

  std::optional<NginxConfError> error_;

 private:
  const NginxConfFiles& files_;
  const NginxConfLimits& limits_;
  const std::string conf_dir_;
  size_t files_read_ = 0;
  size_t bytes_ = 0;
  size_t directives_ = 0;
};

}  // namespace

NginxConfParse ParseNginxConf(std::string_view text, const std::string& file,
                              const NginxConfLimits& limits, size_t* counted) {
  size_t local = 0;
  Reader reader(text, file, limits, counted != nullptr ? counted : &local);
  return reader.Run();
}

NginxConfParse LoadNginxConf(const std::string& main_path, const NginxConfFiles& files,
                             const NginxConfLimits& limits) {
  Loader loader(files, limits, DirName(main_path));
  NginxConfParse out;
  loader.LoadFile(main_path, 0, nullptr, out.directives);
  out.error = loader.error_;
  return out;
}

NginxConfFiles DiskNginxConfFiles(size_t max_bytes) {
  NginxConfFiles f;
  f.read = [max_bytes](const std::string& path, std::string* error) -> std::optional<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      *error = "cannot open";
      return std::nullopt;
    }
    std::string text;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      text.append(buf, static_cast<size_t>(in.gcount()));
      if (text.size() > max_bytes) {
        *error = "larger than " + std::to_string(max_bytes) + " bytes";
        return std::nullopt;
      }
    }
    return text;
  };
  f.glob = [](const std::string& pattern) {
    std::vector<std::string> out;
    glob_t g{};
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
    std::sort(out.begin(), out.end());
    return out;
  };
  return f;
}

std::map<std::string, std::string> SplitNginxT(std::string_view output, std::string* main) {
  static constexpr std::string_view kMarker = "# configuration file ";
  std::map<std::string, std::string> files;
  main->clear();
  std::string* current = nullptr;
  size_t pos = 0;
  while (pos < output.size()) {
    size_t end = output.find('\n', pos);
    size_t next = end == std::string_view::npos ? output.size() : end + 1;
    std::string_view line = output.substr(pos, next - pos);
    std::string_view bare = line;
    while (!bare.empty() && (bare.back() == '\n' || bare.back() == '\r')) bare.remove_suffix(1);
    if (bare.substr(0, kMarker.size()) == kMarker && bare.size() > kMarker.size() + 1 &&
        bare.back() == ':') {
      std::string path(bare.substr(kMarker.size(), bare.size() - kMarker.size() - 1));
      if (main->empty()) *main = path;
      current = &files[path];
      current->clear();
    } else if (current != nullptr) {
      current->append(line);
    }
    pos = next;
  }
  return files;
}

NginxConfFiles TableNginxConfFiles(std::map<std::string, std::string> files) {
  auto table = std::make_shared<const std::map<std::string, std::string>>(std::move(files));
  NginxConfFiles f;
  f.read = [table](const std::string& path, std::string* error) -> std::optional<std::string> {
    auto it = table->find(path);
    if (it == table->end()) {
      *error = "not in nginx -T output";
      return std::nullopt;
    }
    return it->second;
  };
  f.glob = [table](const std::string& pattern) {
    std::vector<std::string> out;
    for (const auto& [path, text] : *table) {
      if (fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0) out.push_back(path);
    }
    return out;  // map order: sorted
  };
  return f;
}

std::optional<long long> ParseNginxTimeMs(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  long long total = 0;
  size_t pos = 0;
  // nginx requires units in decreasing order (y M w d h m s ms) and each once.
  int last_rank = 100;
  bool any = false;
  while (pos < text.size()) {
    long long value = 0;
    auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), value);
    if (ec != std::errc() || value < 0) return std::nullopt;
    pos = static_cast<size_t>(ptr - text.data());
    std::string_view unit;
    size_t unit_end = pos;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
      ++unit_end;
    }
    unit = text.substr(pos, unit_end - pos);
    pos = unit_end;
    long long scale = 0;
    int rank = 0;
    if (unit == "ms") {
      scale = 1, rank = 0;
    } else if (unit == "s" || unit.empty()) {
      scale = 1000, rank = 1;
    } else if (unit == "m") {
      scale = 60000, rank = 2;
    } else if (unit == "h") {
      scale = 3600000, rank = 3;
    } else if (unit == "d") {
      scale = 86400000LL, rank = 4;
    } else if (unit == "w") {
      scale = 7 * 86400000LL, rank = 5;
    } else if (unit == "M") {
      scale = 30 * 86400000LL, rank = 6;
    } else if (unit == "y") {
      scale = 365 * 86400000LL, rank = 7;
    } else {
      return std::nullopt;
    }
    if (rank >= last_rank) return std::nullopt;
    if (unit.empty() && pos != text.size()) return std::nullopt;
    last_rank = rank;
    if (value > (1LL << 40) / scale) return std::nullopt;  // absurd: refuse rather than overflow
    total += value * scale;
    any = true;
    while (pos < text.size() && text[pos] == ' ') ++pos;
  }
  if (!any) return std::nullopt;
  return total;
}

}  // namespace gatewatch
