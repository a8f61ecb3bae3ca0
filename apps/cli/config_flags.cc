#include "apps/cli/config_flags.h"

#include "core/check.h"

namespace sdr::cli {

ConfigFlags::ConfigFlags(CLI::App* sub, std::initializer_list<std::string_view> fields) {
  for (std::string_view name : fields) {
    const ConfigField* field = FindConfigField(name);
    SDR_CHECK(field != nullptr && !field->flags.empty());
    for (const ConfigFlag& flag : field->flags) {
      auto text = std::make_shared<std::string>();
      std::string help(flag.help.empty() ? std::string_view(field->help) : flag.help);
      if (!field->env_var.empty()) help += " [" + std::string(field->env_var) + "]";
      CLI::Option* option = nullptr;
      if (field->kind == ConfigKind::kBool && flag.parse == nullptr) {
        option = sub->add_flag_callback(std::string(flag.spec), [text] { *text = "true"; }, help);
      } else {
        option = sub->add_option(std::string(flag.spec), *text, help);
        if (!field->default_text.empty() && field->kind != ConfigKind::kPath && flag.parse == nullptr) {
          option->default_str(std::string(field->default_text));
        }
      }
      bound_.push_back({field, &flag, option, std::move(text)});
    }
  }
}

Status ConfigFlags::Apply(RuntimeConfig& config) const {
  for (const Bound& b : bound_) {
    if (b.option->count() == 0) continue;
    const ConfigParseFn parse = b.flag->parse != nullptr ? b.flag->parse : b.field->parse;
    SDR_RETURN_IF_ERROR(parse(b.option->get_name(), *b.text, config));
  }
  return Status::Ok();
}

bool ConfigFlags::Given(std::string_view field) const {
  for (const Bound& b : bound_) {
    if (b.field->name == field && b.option->count() > 0) return true;
  }
  return false;
}

}  // namespace sdr::cli
